package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrForgotten is returned by Store.InsertLink for a user whose links erasure deleted.
var ErrForgotten = errors.New("audit: the user is forgotten")

// APIKeyActorID is the actor id of every record the tenant's API key makes (actor type
// ActorAPIKey): requests, appended events, consents, exports, rectifications and erasures.
const APIKeyActorID = "api_key"

// unlinkedPseudonym returns a random pseudonym that no link names: how a forgotten user
// appears in records made after their erasure.
func unlinkedPseudonym() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("audit pseudonym: %w", err)
	}
	return PseudonymPrefix + hex.EncodeToString(b), nil
}

// LatestCheckpoint returns the tenant's signed checkpoint with the highest seq <= atOrBefore,
// or ErrNotFound. Verify's answer carries it, so an auditor can check a signed head through the
// API with the published public key.
func (s *Service) LatestCheckpoint(ctx context.Context, tenantID string, atOrBefore int64) (Checkpoint, error) {
	c, err := s.cfg.Store.LastCheckpoint(ctx, tenantID, atOrBefore)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Checkpoint{}, err
		}
		return Checkpoint{}, fmt.Errorf("read audit checkpoint: %w", err)
	}
	return c, nil
}

// checkpointJSON is a signed checkpoint as the API shows it.
type checkpointJSON struct {
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

func toCheckpointJSON(c Checkpoint) checkpointJSON {
	return checkpointJSON{Seq: c.Seq, Hash: c.Hash, Time: c.Time.UTC().Format(TimeFormat), KeyID: c.KeyID, Signature: c.Signature}
}
