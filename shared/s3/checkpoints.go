package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"caas.dev/shared/audit"
)

// CheckpointSink keeps a copy of every audit checkpoint in the bucket, outside the database
// that holds the chain: an attacker who rewrites the database must also reach the bucket (which
// can be write-once with S3 Object Lock) to hide it. It implements audit.CheckpointSink.
type CheckpointSink struct {
	Store *Store
}

var _ audit.CheckpointSink = CheckpointSink{}

// CheckpointKey is where the checkpoint of a tenant's chain at seq is stored:
// audit/checkpoints/<tenant>/<seq, 20 digits>.json, so a listing is in chain order.
func CheckpointKey(tenantID string, seq int64) string {
	return fmt.Sprintf("audit/checkpoints/%s/%020d.json", tenantID, seq)
}

// checkpointJSON is a stored checkpoint: what its signature covers, and the signature.
type checkpointJSON struct {
	Type      string `json:"type"`
	TenantID  string `json:"tenant_id"`
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// PutCheckpoint implements audit.CheckpointSink.
func (s CheckpointSink) PutCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	b, err := json.Marshal(checkpointJSON{
		Type: "caas.audit.checkpoint.v1", TenantID: c.TenantID, Seq: c.Seq, Hash: c.Hash,
		Time: c.Time.UTC().Format(audit.TimeFormat), KeyID: c.KeyID, Signature: c.Signature,
	})
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := s.Store.Put(ctx, CheckpointKey(c.TenantID, c.Seq), bytes.NewReader(b), int64(len(b)), "application/json"); err != nil {
		return fmt.Errorf("store checkpoint: %w", err)
	}
	return nil
}
