package s3_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo/mongotest"
	"caas.dev/shared/s3"
)

// The audit trail's checkpoints land in the bucket, each a signed statement an outsider can
// check with the tenant's published key.
func TestAuditCheckpointsInTheBucket(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t)
	db := mongotest.Open(t)
	trail, err := audit.New(audit.Config{Store: db.Audit(), Secrets: mongotest.Keys(t, db), Sink: s3.CheckpointSink{Store: st}, CheckpointEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	tenant := ids.Random{}.New(ids.Tenant)
	t.Cleanup(func() { st.DeletePrefix(context.Background(), "audit/checkpoints/"+tenant+"/") })

	now := time.Now().UTC().Truncate(time.Millisecond)
	var in []audit.Input
	for i := range 3 {
		in = append(in, audit.Input{ID: ids.Random{}.New("evt"), Time: now, Action: "EXPORT invoices",
			Actor: audit.Actor{Type: audit.ActorSystem, ID: "test"}, Outcome: audit.OutcomeSuccess, Status: 200,
			Resource: "inv_" + string(rune('a'+i))})
	}
	for _, one := range in {
		if _, err := trail.Append(ctx, tenant, []audit.Input{one}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := st.List(ctx, "audit/checkpoints/"+tenant+"/")
	if err != nil || len(objs) == 0 {
		t.Fatalf("no checkpoint in the bucket: %v, %v", objs, err)
	}
	pub, _, err := trail.PublicKey(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var c struct {
			TenantID  string `json:"tenant_id"`
			Seq       int64  `json:"seq"`
			Hash      string `json:"hash"`
			Time      string `json:"time"`
			KeyID     string `json:"key_id"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal(get(t, st, o.Key), &c); err != nil {
			t.Fatal(err)
		}
		if o.Key != s3.CheckpointKey(tenant, c.Seq) || c.TenantID != tenant {
			t.Fatalf("checkpoint %s holds %+v", o.Key, c)
		}
		at, _ := time.Parse(audit.TimeFormat, c.Time)
		payload, err := audit.Checkpoint{TenantID: c.TenantID, Seq: c.Seq, Hash: c.Hash, Time: at, KeyID: c.KeyID}.Payload()
		if err != nil {
			t.Fatal(err)
		}
		sig, err := hex.DecodeString(c.Signature)
		if err != nil || !ed25519.Verify(pub, payload, sig) {
			t.Fatalf("the stored checkpoint at seq %d does not verify with the tenant's key", c.Seq)
		}
	}
}
