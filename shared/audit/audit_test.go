package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/audit"
	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

// world is an audit service on real MongoDB with its own databases, and a raw handle on the
// audit collections for tampering.
type world struct {
	uri, prefix string
	client      *mongo.Client
	keys        *keys.Service
	clk         *clock.Fixed
	svc         *audit.Service
	raw         *driver.Database
}

func openClient(t testing.TB, uri, prefix string) *mongo.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.OpenWithPrefix(ctx, uri, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func newWorld(t testing.TB, every int64) *world {
	t.Helper()
	w := &world{uri: backendtest.MongoURI(t), prefix: backendtest.Prefix(t)}
	w.client = openClient(t, w.uri, w.prefix)
	if err := w.client.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	w.clk = clock.NewFixed(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	w.keys, err = keys.New(keys.Config{Store: w.client.Keys(), Master: master, Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = w.service(t, w.client, every)
	rc, err := driver.Connect(context.Background(), options.Client().ApplyURI(w.uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Disconnect(context.Background()) })
	w.raw = rc.Database(w.prefix + mongo.ComplianceDB)
	return w
}

func (w *world) service(t testing.TB, c *mongo.Client, every int64) *audit.Service {
	t.Helper()
	svc, err := audit.New(audit.Config{Store: c.Audit(), Secrets: w.keys, Clock: w.clk, CheckpointEvery: every, CheckpointInterval: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newTenant() string { return ids.Random{}.New(ids.Tenant) }

// inputs returns n records with ids prefix-0..n-1, one second apart from base.
func inputs(prefix string, n int, base time.Time) []audit.Input {
	out := make([]audit.Input, n)
	for i := range out {
		out[i] = audit.Input{
			ID: fmt.Sprintf("%s-%d", prefix, i), Time: base.Add(time.Duration(i) * time.Second),
			Actor:  audit.Actor{Type: audit.ActorAPIKey, ID: "key_1"},
			Action: "POST /v1/conversations", Resource: fmt.Sprintf("cnv_%d", i%3),
			Outcome: audit.OutcomeSuccess, Status: 201, IP: "203.0.113.7", UserAgent: "test/1",
			LatencyMS: int64(i), RequestID: fmt.Sprintf("req-%d", i),
			Details: map[string]string{"n": fmt.Sprint(i)},
		}
	}
	return out
}

func mustAppend(t testing.TB, svc *audit.Service, tenant string, in []audit.Input) audit.AppendResult {
	t.Helper()
	res, err := svc.Append(context.Background(), tenant, in)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func mustVerify(t *testing.T, svc *audit.Service, tenant string, from, to int64) audit.Verification {
	t.Helper()
	v, err := svc.Verify(t.Context(), tenant, from, to)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return v
}

func recordID(tenant string, seq int64) string { return fmt.Sprintf("%s|%016d", tenant, seq) }

func TestAppendChainsAndVerifies(t *testing.T) {
	w := newWorld(t, 10)
	tenant := newTenant()
	base := time.Date(2026, 5, 1, 9, 0, 0, 123456789, time.UTC)
	res := mustAppend(t, w.svc, tenant, inputs("a", 25, base))
	if res.Appended != 25 || res.Skipped != 0 || res.HeadSeq != 25 {
		t.Fatalf("append = %+v, want 25 appended, head 25", res)
	}
	mustAppend(t, w.svc, tenant, inputs("b", 12, base))

	v := mustVerify(t, w.svc, tenant, 1, 0)
	if !v.Valid || v.HeadSeq != 37 || v.Checked != 37 {
		t.Fatalf("verify = %+v, want valid to 37", v)
	}
	// Checkpoints were made at 25 (first) and 37 (12 past it); verifying from 30 starts at 25.
	v = mustVerify(t, w.svc, tenant, 30, 37)
	if !v.Valid || v.FromSeq != 25 || v.Checked != 12 || v.Checkpoints != 2 {
		t.Fatalf("verify 30..37 = %+v, want valid from checkpoint 25 with 2 checkpoints", v)
	}
	recs, _, err := w.svc.Query(t.Context(), tenant, audit.Filter{}, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := recs[0].ComputeHash(); h != recs[0].Hash || !recs[0].Time.Equal(base.Add(11*time.Second).Truncate(time.Millisecond)) {
		t.Errorf("stored head does not rehash or lost ms precision: %+v", recs[0])
	}
	if _, err := w.svc.Verify(t.Context(), tenant, 5, 2); !errors.Is(err, audit.ErrInvalidRange) {
		t.Errorf("verify 5..2 = %v, want ErrInvalidRange", err)
	}
}

func TestTamperingIsFoundAtTheFirstBrokenSeq(t *testing.T) {
	w := newWorld(t, 10)
	ctx := t.Context()
	records := w.raw.Collection(mongo.AuditRecordsCollection)
	tests := []struct {
		name       string
		tamper     func(t *testing.T, tenant string)
		wantSeq    int64
		wantReason string
	}{
		{"change a record", func(t *testing.T, tenant string) {
			_, err := records.UpdateOne(ctx, bson.M{"_id": recordID(tenant, 7)}, bson.M{"$set": bson.M{"action": "DELETE /v1/conversations"}})
			if err != nil {
				t.Fatal(err)
			}
		}, 7, audit.ReasonHashMismatch},
		{"change a record and its hash", func(t *testing.T, tenant string) {
			_, err := records.UpdateOne(ctx, bson.M{"_id": recordID(tenant, 4)}, bson.M{"$set": bson.M{"status": 500, "hash": strings.Repeat("ab", 32)}})
			if err != nil {
				t.Fatal(err)
			}
		}, 4, audit.ReasonHashMismatch},
		{"delete a record", func(t *testing.T, tenant string) {
			if _, err := records.DeleteOne(ctx, bson.M{"_id": recordID(tenant, 13)}); err != nil {
				t.Fatal(err)
			}
		}, 13, audit.ReasonGap},
		{"swap two records", func(t *testing.T, tenant string) {
			var a, b bson.M
			if err := records.FindOne(ctx, bson.M{"_id": recordID(tenant, 15)}).Decode(&a); err != nil {
				t.Fatal(err)
			}
			if err := records.FindOne(ctx, bson.M{"_id": recordID(tenant, 16)}).Decode(&b); err != nil {
				t.Fatal(err)
			}
			a["_id"], b["_id"] = b["_id"], a["_id"]
			a["seq"], b["seq"] = b["seq"], a["seq"]
			// Delete both and insert them in each other's place (the unique record id
			// index refuses an in-place swap).
			if _, err := records.DeleteMany(ctx, bson.M{"_id": bson.M{"$in": bson.A{a["_id"], b["_id"]}}}); err != nil {
				t.Fatal(err)
			}
			if _, err := records.InsertMany(ctx, []any{a, b}); err != nil {
				t.Fatal(err)
			}
		}, 15, audit.ReasonPreviousHashMismatch},
		{"change a checkpoint signature", func(t *testing.T, tenant string) {
			cps := w.raw.Collection(mongo.AuditCheckpointsCollection)
			var c bson.M
			if err := cps.FindOne(ctx, bson.M{"_id": recordID(tenant, 20)}).Decode(&c); err != nil {
				t.Fatalf("checkpoint at 20: %v", err)
			}
			sig := []byte(c["signature"].(string))
			sig[0] ^= 1 // '0'..'f' stays hex for all but a few; either way the signature breaks
			if _, err := cps.UpdateOne(ctx, bson.M{"_id": c["_id"]}, bson.M{"$set": bson.M{"signature": string(sig)}}); err != nil {
				t.Fatal(err)
			}
		}, 20, audit.ReasonBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tenant := newTenant()
			base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			for i := range 3 {
				mustAppend(t, w.svc, tenant, inputs(fmt.Sprintf("b%d", i), 10, base))
			}
			if v := mustVerify(t, w.svc, tenant, 1, 0); !v.Valid {
				t.Fatalf("before tampering: %+v", v)
			}
			tc.tamper(t, tenant)
			v := mustVerify(t, w.svc, tenant, 1, 0)
			if v.Valid || v.BrokenSeq != tc.wantSeq || v.Reason != tc.wantReason {
				t.Fatalf("verify = valid %v, broken %d %q; want broken %d %q", v.Valid, v.BrokenSeq, v.Reason, tc.wantSeq, tc.wantReason)
			}
		})
	}
}

func TestAppendSkipsRecordsAlreadyInTheChain(t *testing.T) {
	w := newWorld(t, 1000)
	tenant := newTenant()
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	batch := inputs("d", 10, base)
	mustAppend(t, w.svc, tenant, batch)
	// A retried batch overlapping the first, with a duplicate inside it.
	retry := append(append([]audit.Input{}, batch[5:]...), inputs("e", 3, base)...)
	retry = append(retry, retry[0])
	res := mustAppend(t, w.svc, tenant, retry)
	if res.Appended != 3 || res.Skipped != 6 || res.HeadSeq != 13 {
		t.Fatalf("retry = %+v, want 3 appended, 6 skipped, head 13", res)
	}
	// A record already in the chain in the middle of a batch: the ones around it all go in,
	// in order, without a gap where it was refused.
	mid := append(append(inputs("f", 5, base), batch[2]), inputs("g", 5, base)...)
	res = mustAppend(t, w.svc, tenant, mid)
	if res.Appended != 10 || res.Skipped != 1 || res.HeadSeq != 23 {
		t.Fatalf("batch with a known record inside = %+v, want 10 appended, 1 skipped, head 23", res)
	}
	if v := mustVerify(t, w.svc, tenant, 1, 0); !v.Valid || v.HeadSeq != 23 {
		t.Fatalf("verify = %+v", v)
	}
}

func TestConcurrentAppendersLeaveOneChain(t *testing.T) {
	w := newWorld(t, 25)
	tenant := newTenant()
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	const writers, batches, size = 8, 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		// Each writer has its own connection, store and service, as separate instances would.
		svc := w.service(t, openClient(t, w.uri, w.prefix), 25)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				in := inputs(fmt.Sprintf("w%d-%d", g, b), size, base)
				// Every writer also hands over the same shared records, as a producer's retries do.
				in = append(in, inputs(fmt.Sprintf("shared-%d", b), 2, base)...)
				if _, err := svc.Append(context.Background(), tenant, in); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	want := int64(writers*batches*size + batches*2)
	v := mustVerify(t, w.svc, tenant, 1, 0)
	if !v.Valid || v.HeadSeq != want || v.Checked != want {
		t.Fatalf("verify = %+v, want a valid chain of %d", v, want)
	}
	seen := map[string]bool{}
	cursor := ""
	for {
		recs, next, err := w.svc.Query(t.Context(), tenant, audit.Filter{}, cursor, audit.MaxQueryLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if seen[r.ID] {
				t.Fatalf("record %s is in the chain twice", r.ID)
			}
			seen[r.ID] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if int64(len(seen)) != want {
		t.Fatalf("%d distinct records, want %d", len(seen), want)
	}
}

func TestPseudonyms(t *testing.T) {
	w := newWorld(t, 1000)
	ctx := t.Context()
	t1, t2 := newTenant(), newTenant()
	p1, err := w.svc.Pseudonym(ctx, t1, "usr_ada")
	if err != nil {
		t.Fatal(err)
	}
	// Another instance (a fresh service, no cache) finds the same key.
	again, err := w.service(t, w.client, 1000).Pseudonym(ctx, t1, "usr_ada")
	if err != nil || again != p1 {
		t.Fatalf("pseudonym again = %q, %v; want %q", again, err, p1)
	}
	p2, err := w.svc.Pseudonym(ctx, t2, "usr_ada")
	if err != nil || p2 == p1 {
		t.Fatalf("pseudonym in another tenant = %q, %v; want one different from %q", p2, err, p1)
	}
	if strings.Contains(p1, "usr_ada") || !strings.HasPrefix(p1, audit.PseudonymPrefix) {
		t.Fatalf("pseudonym %q", p1)
	}
	if u, err := w.svc.ResolvePseudonym(ctx, t1, p1); err != nil || u != "usr_ada" {
		t.Fatalf("resolve = %q, %v", u, err)
	}
	if _, err := w.svc.ResolvePseudonym(ctx, t2, p1); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("resolve in the other tenant = %v, want ErrNotFound", err)
	}

	in := inputs("p", 5, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	for i := range in {
		in[i].Actor = audit.Actor{Type: audit.ActorUser, ID: p1}
	}
	mustAppend(t, w.svc, t1, in)
	if n, err := w.svc.ForgetUser(ctx, t1, "usr_ada"); err != nil || n != 1 {
		t.Fatalf("forget = %d, %v", n, err)
	}
	if _, err := w.svc.ResolvePseudonym(ctx, t1, p1); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("resolve after erasure = %v, want ErrNotFound", err)
	}
	if v := mustVerify(t, w.svc, t1, 1, 0); !v.Valid || v.HeadSeq != 5 {
		t.Fatalf("verify after erasure = %+v", v)
	}
	recs, _, err := w.svc.Query(ctx, t1, audit.Filter{ActorID: p1}, "", 0)
	if err != nil || len(recs) != 5 {
		t.Fatalf("records of the pseudonym after erasure = %d, %v", len(recs), err)
	}
}

func TestQueryFiltersAndPages(t *testing.T) {
	w := newWorld(t, 1000)
	ctx := t.Context()
	tenant, other := newTenant(), newTenant()
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	mustAppend(t, w.svc, tenant, inputs("q", 30, base))
	mustAppend(t, w.svc, other, inputs("q", 30, base))

	var seqs []int64
	cursor := ""
	for {
		recs, next, err := w.svc.Query(ctx, tenant, audit.Filter{Resource: "cnv_1"}, cursor, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.TenantID != tenant || r.Resource != "cnv_1" {
				t.Fatalf("record %+v does not match", r)
			}
			seqs = append(seqs, r.Seq)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	want := []int64{29, 26, 23, 20, 17, 14, 11, 8, 5, 2}
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Fatalf("seqs = %v, want %v", seqs, want)
	}
	recs, _, err := w.svc.Query(ctx, tenant, audit.Filter{From: base.Add(10 * time.Second), To: base.Add(13 * time.Second)}, "", 0)
	if err != nil || len(recs) != 3 || recs[0].Seq != 13 {
		t.Fatalf("time window = %d records, %v", len(recs), err)
	}
	if _, _, err := w.svc.Query(ctx, tenant, audit.Filter{}, "bogus", 0); !errors.Is(err, audit.ErrInvalidCursor) {
		t.Fatalf("bad cursor = %v", err)
	}
}

// sinkRecorder is a CheckpointSink that keeps what it was given.
type sinkRecorder struct {
	mu  sync.Mutex
	got []audit.Checkpoint
}

func (s *sinkRecorder) PutCheckpoint(_ context.Context, c audit.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, c)
	return nil
}

func TestCheckpointsByCountAndTimeReachTheSink(t *testing.T) {
	w := newWorld(t, 1000)
	sink := &sinkRecorder{}
	svc, err := audit.New(audit.Config{Store: w.client.Audit(), Secrets: w.keys, Clock: w.clk, Sink: sink,
		CheckpointEvery: 10, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tenant := newTenant()
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	mustAppend(t, svc, tenant, inputs("c0", 3, base)) // the first: no checkpoint yet, so one at 3
	mustAppend(t, svc, tenant, inputs("c1", 5, base)) // 8: 5 past it, within the hour
	mustAppend(t, svc, tenant, inputs("c2", 5, base)) // 13: 10 past it
	w.clk.Advance(2 * time.Hour)
	mustAppend(t, svc, tenant, inputs("c3", 1, base)) // 14: an hour after the last
	var seqs []int64
	for _, c := range sink.got {
		seqs = append(seqs, c.Seq)
	}
	if fmt.Sprint(seqs) != "[3 13 14]" {
		t.Fatalf("checkpoints at %v, want [3 13 14]", seqs)
	}
	pub, keyID, err := svc.PublicKey(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := sink.got[2].Payload()
	sig, _ := hex.DecodeString(sink.got[2].Signature)
	if sink.got[2].KeyID != keyID || !ed25519.Verify(pub, payload, sig) {
		t.Fatalf("the sink's checkpoint does not verify with the published key")
	}
	if v := mustVerify(t, svc, tenant, 14, 14); !v.Valid || v.FromSeq != 14 || v.Checked != 0 {
		t.Fatalf("verify 14..14 = %+v, want valid from the checkpoint at 14", v)
	}
}
