package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
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
	"caas.dev/shared/retention"
	"caas.dev/shared/s3"
)

const day = 24 * time.Hour

// heldUser is the user the tests place a legal hold on.
const heldUser = "usr_0000000000000000000000h1d0"

// world is a retention service on real MongoDB and S3 servers with its own databases, raw
// handles on them to seed data and look at what is left, and the audit trail it writes to.
type world struct {
	client   *mongo.Client
	clk      *clock.Fixed
	audit    *audit.Service
	store    *mongo.RetentionStore
	objects  *s3.Store
	svc      *retention.Service
	platform *driver.Database
	comp     *driver.Database
	prefix   string
}

func newWorld(t *testing.T, batch int) *world {
	t.Helper()
	ctx := context.Background()
	uri, prefix := backendtest.MongoURI(t), backendtest.Prefix(t)
	c, err := mongo.OpenWithPrefix(ctx, uri, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{client: c, clk: clock.NewFixed(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)), store: c.Retention(), prefix: prefix}
	ks, err := keys.New(keys.Config{Store: c.Keys(), Master: master, Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	w.audit, err = audit.New(audit.Config{Store: c.Audit(), Secrets: ks, Clock: w.clk, CheckpointEvery: 5, CheckpointInterval: 1000 * day})
	if err != nil {
		t.Fatal(err)
	}
	w.objects, err = s3.Open(ctx, backendtest.S3Config(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.objects.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	w.svc = w.service(t, w.store, batch)
	rc, err := driver.Connect(ctx, options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Disconnect(context.Background()) })
	w.platform = rc.Database(prefix + mongo.PlatformDB)
	w.comp = rc.Database(prefix + mongo.ComplianceDB)
	return w
}

func (w *world) service(t *testing.T, st retention.Store, batch int) *retention.Service {
	t.Helper()
	svc, err := retention.New(retention.Config{Store: st, Objects: w.objects, Audit: w.audit, Clock: w.clk,
		Batch: batch, Margin: time.Second, SessionIdle: 30 * day})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (w *world) insert(t *testing.T, db *driver.Database, coll string, docs ...any) {
	t.Helper()
	if _, err := db.Collection(coll).InsertMany(context.Background(), docs); err != nil {
		t.Fatalf("seed %s: %v", coll, err)
	}
}

// ids returns the sorted _ids of coll's documents matching q.
func (w *world) ids(t *testing.T, db *driver.Database, coll string, q bson.D) []string {
	t.Helper()
	cur, err := db.Collection(coll).Find(context.Background(), q, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	sort.Strings(out)
	return out
}

// seedUser stores a user of the tenant.
func (w *world) seedUser(t *testing.T, tenant, id string) {
	t.Helper()
	w.insert(t, w.platform, mongo.UsersCollection, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenant},
		{Key: "email", Value: id + "@example.com"}, {Key: "display_name", Value: "Held"}, {Key: "password_hash", Value: "x"},
		{Key: "created_at", Value: w.clk.Now()}})
}

// seedConversation stores a conversation and one message per age (in days), sent by sender,
// with ids conv/m<i>.
func (w *world) seedConversation(t *testing.T, tenant, conv string, msgs ...msg) {
	t.Helper()
	w.insert(t, w.platform, "conversations", bson.D{{Key: "_id", Value: conv}, {Key: "tenant_id", Value: tenant},
		{Key: "type", Value: "group"}, {Key: "created_at", Value: w.clk.Now().Add(-1000 * day)}})
	for i, m := range msgs {
		id := fmt.Sprintf("%s/m%d", conv, i)
		w.insert(t, w.platform, "messages", bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenant},
			{Key: "conversation_id", Value: conv}, {Key: "seq", Value: int64(i + 1)}, {Key: "sender_id", Value: m.sender},
			{Key: "client_msg_id", Value: id}, {Key: "body_ct", Value: "ct"}, {Key: "created_at", Value: w.clk.Now().Add(-time.Duration(m.age) * day)},
			{Key: "published", Value: true}})
		w.insert(t, w.platform, "message_keys", bson.D{{Key: "_id", Value: tenant + "|" + conv + "|" + m.sender + "|" + id},
			{Key: "tenant_id", Value: tenant}, {Key: "message_id", Value: id}})
	}
}

type msg struct {
	sender string
	age    int
}

func (w *world) messages(t *testing.T, tenant string) []string {
	return w.ids(t, w.platform, "messages", bson.D{{Key: "tenant_id", Value: tenant}})
}

func intp(n int) *int { return &n }

// TestRunDeletesExactlyWhatIsPastItsPeriod sets a 30-day policy on one tenant and checks a run
// deletes its older messages, exports (with their archives) and ended or idle sessions, and
// nothing younger, nothing under a legal hold (user or conversation), nothing a conversation
// override keeps, and nothing of another tenant; then it writes one audit record with counts.
func TestRunDeletesExactlyWhatIsPastItsPeriod(t *testing.T) {
	w := newWorld(t, 2)
	ctx := context.Background()
	a, b := ids.Random{}.New(ids.Tenant), ids.Random{}.New(ids.Tenant)
	for _, ten := range []string{a, b} {
		w.seedConversation(t, ten, ten+"-c1", msg{"u1", 40}, msg{"u2", 31}, msg{"u1", 29}, msg{heldUser, 40}, msg{"u2", 100})
		w.seedConversation(t, ten, ten+"-held", msg{"u1", 40}, msg{"u2", 50})
		w.seedConversation(t, ten, ten+"-forever", msg{"u1", 400})
		w.seedConversation(t, ten, ten+"-short", msg{"u1", 10}, msg{"u1", 3})
	}
	if _, err := w.svc.PutPolicy(ctx, a, "test", retention.Periods{MessagesDays: 30, ExportsDays: 30, SessionsDays: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.PutOverride(ctx, retention.Override{TenantID: a, ConversationID: a + "-forever", MessagesDays: intp(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.PutOverride(ctx, retention.Override{TenantID: a, ConversationID: a + "-short", MessagesDays: intp(5)}); err != nil {
		t.Fatal(err)
	}
	w.seedUser(t, a, heldUser)
	for _, h := range []retention.Hold{{TenantID: a, UserID: heldUser, Reason: "litigation"}, {TenantID: a, ConversationID: a + "-held", Reason: "audit"}} {
		if _, err := w.svc.PlaceHold(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	// Exports: an old one, a young one, an old one of the held user; each with its archive.
	now := w.clk.Now()
	for _, ten := range []string{a, b} {
		for _, e := range []struct {
			id, user string
			age      int
		}{{"old", "u1", 31}, {"young", "u1", 29}, {"heldold", heldUser, 60}} {
			key := mongo.ExportObjectPrefix + w.prefix + "/" + ten + "/" + e.user + "/" + e.id + ".zip"
			if err := w.objects.Put(ctx, key, bytes.NewReader([]byte("zip")), 3, "application/zip"); err != nil {
				t.Fatal(err)
			}
			w.insert(t, w.comp, mongo.ExportsCollection, bson.D{{Key: "_id", Value: ten + "-exp-" + e.id}, {Key: "tenant_id", Value: ten},
				{Key: "user_id", Value: e.user}, {Key: "status", Value: "completed"}, {Key: "object_key", Value: key},
				{Key: "created_at", Value: now.Add(-time.Duration(e.age) * day)}})
		}
		// Sessions: ended 31 days ago (goes), ended 29 days ago (stays), never ended and idle
		// 61 days (goes: 30 days of refresh lifetime plus the period), idle 40 days (stays),
		// and the held user's session ended long ago (stays).
		for _, s := range []bson.D{
			{{Key: "_id", Value: ten + "-s-ended-old"}, {Key: "user_id", Value: "u1"}, {Key: "last_used_at", Value: now.Add(-31 * day)}, {Key: "revoked_at", Value: now.Add(-31 * day)}},
			{{Key: "_id", Value: ten + "-s-ended-young"}, {Key: "user_id", Value: "u1"}, {Key: "last_used_at", Value: now.Add(-29 * day)}, {Key: "revoked_at", Value: now.Add(-29 * day)}},
			{{Key: "_id", Value: ten + "-s-idle-old"}, {Key: "user_id", Value: "u2"}, {Key: "last_used_at", Value: now.Add(-61 * day)}},
			{{Key: "_id", Value: ten + "-s-idle-young"}, {Key: "user_id", Value: "u2"}, {Key: "last_used_at", Value: now.Add(-40 * day)}},
			{{Key: "_id", Value: ten + "-s-held"}, {Key: "user_id", Value: heldUser}, {Key: "last_used_at", Value: now.Add(-300 * day)}, {Key: "revoked_at", Value: now.Add(-300 * day)}},
		} {
			w.insert(t, w.platform, mongo.SessionsCollection, append(s, bson.E{Key: "tenant_id", Value: ten}, bson.E{Key: "created_at", Value: now.Add(-400 * day)}))
			id := s[0].Value.(string)
			w.insert(t, w.platform, mongo.RefreshTokensCollection, bson.D{{Key: "_id", Value: "tok-" + id}, {Key: "tenant_id", Value: ten}, {Key: "session_id", Value: id}})
		}
	}

	res, err := w.svc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Finished || len(res.Tenants) != 1 || res.Tenants[0].TenantID != a || res.Tenants[0].Error != "" {
		t.Fatalf("run: %+v", res)
	}
	want := map[string]int{retention.CategoryMessages: 4, retention.CategoryExports: 1, retention.CategorySessions: 2,
		retention.CategoryMedia: 0, retention.CategoryAuditRecords: 0}
	for k, n := range want {
		if res.Deleted[k] != n {
			t.Errorf("deleted %s: %d, want %d (%v)", k, res.Deleted[k], n, res.Deleted)
		}
	}

	wantMsgs := func(ten string, gone ...string) []string {
		all := []string{ten + "-c1/m0", ten + "-c1/m1", ten + "-c1/m2", ten + "-c1/m3", ten + "-c1/m4",
			ten + "-held/m0", ten + "-held/m1", ten + "-forever/m0", ten + "-short/m0", ten + "-short/m1"}
		out := slices.DeleteFunc(all, func(id string) bool { return slices.Contains(gone, id) })
		sort.Strings(out)
		return out
	}
	if got, want := w.messages(t, a), wantMsgs(a, a+"-c1/m0", a+"-c1/m1", a+"-c1/m4", a+"-short/m0"); !slices.Equal(got, want) {
		t.Errorf("messages of the tenant with the policy:\n got %v\nwant %v", got, want)
	}
	if got, want := w.messages(t, b), wantMsgs(b); !slices.Equal(got, want) {
		t.Errorf("messages of the other tenant: got %v, want all %v", got, want)
	}
	if keys := w.ids(t, w.platform, "message_keys", bson.D{{Key: "tenant_id", Value: a}}); len(keys) != 6 {
		t.Errorf("message keys left: %d, want 6 (%v)", len(keys), keys)
	}
	if got := w.ids(t, w.comp, mongo.ExportsCollection, bson.D{{Key: "tenant_id", Value: a}}); !slices.Equal(got, []string{a + "-exp-heldold", a + "-exp-young"}) {
		t.Errorf("exports left: %v", got)
	}
	if got := w.ids(t, w.comp, mongo.ExportsCollection, bson.D{{Key: "tenant_id", Value: b}}); len(got) != 3 {
		t.Errorf("exports of the other tenant: %v", got)
	}
	objs, err := w.objects.List(ctx, mongo.ExportObjectPrefix+w.prefix+"/"+a+"/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Errorf("archives left: %v, want the young one and the held user's", objs)
	}
	if got := w.ids(t, w.platform, mongo.SessionsCollection, bson.D{{Key: "tenant_id", Value: a}}); !slices.Equal(got, []string{a + "-s-ended-young", a + "-s-held", a + "-s-idle-young"}) {
		t.Errorf("sessions left: %v", got)
	}
	if got := w.ids(t, w.platform, mongo.RefreshTokensCollection, bson.D{{Key: "tenant_id", Value: a}}); len(got) != 3 {
		t.Errorf("refresh tokens left: %v, want those of the 3 sessions left", got)
	}
	if got := w.ids(t, w.platform, mongo.SessionsCollection, bson.D{{Key: "tenant_id", Value: b}}); len(got) != 5 {
		t.Errorf("sessions of the other tenant: %v", got)
	}

	recs, _, err := w.audit.Query(ctx, a, audit.Filter{Action: retention.AuditAction}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Actor != (audit.Actor{Type: audit.ActorSystem, ID: retention.AuditActorID}) ||
		recs[0].Details["messages"] != "4" || recs[0].Details["sessions"] != "2" || recs[0].Details["exports"] != "1" ||
		recs[0].Details["finished"] != "true" {
		t.Fatalf("run's audit record: %+v", recs)
	}

	// A second run finds nothing more, and says so in its own record.
	res, err = w.svc.Run(ctx)
	if err != nil || res.Deleted[retention.CategoryMessages]+res.Deleted[retention.CategorySessions]+res.Deleted[retention.CategoryExports] != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	if recs, _, _ := w.audit.Query(ctx, a, audit.Filter{Action: retention.AuditAction}, "", 10); len(recs) != 2 ||
		recs[0].Details["messages"] != "0" || recs[0].Details["finished"] != "true" {
		t.Errorf("records after a run that deleted nothing: %+v, want a second one with zero counts", recs)
	}

	// Releasing the conversation hold lets the next run delete its old messages.
	hs, err := w.svc.Holds(ctx, a)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds: %v, %v", hs, err)
	}
	if err := w.svc.ReleaseHold(ctx, a, hs[1].ID); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ReleaseHold(ctx, b, hs[0].ID); !errors.Is(err, retention.ErrHoldNotFound) {
		t.Errorf("release another tenant's hold: %v", err)
	}
	if _, err := w.svc.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.ids(t, w.platform, "messages", bson.D{{Key: "conversation_id", Value: a + "-held"}}); len(got) != 0 {
		t.Errorf("messages of the released conversation: %v", got)
	}
}

// budgetStore is the real store with a switch: after `after` message deletions it makes the
// run's context report a deadline inside the margin, as a run close to its timeout sees.
type budgetStore struct {
	*mongo.RetentionStore
	after int32
	calls atomic.Int32
	ctx   *budgetCtx
}

func (s *budgetStore) DeleteMessages(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spare []string, limit int) (int, error) {
	n, err := s.RetentionStore.DeleteMessages(ctx, tenantID, conversationID, cutoff, spare, limit)
	if s.calls.Add(1) == s.after {
		s.ctx.spent.Store(true)
	}
	return n, err
}

// budgetCtx has no deadline until spent, then one half a margin away.
type budgetCtx struct {
	context.Context
	spent atomic.Bool
}

func (c *budgetCtx) Deadline() (time.Time, bool) {
	if c.spent.Load() {
		return time.Now().Add(500 * time.Millisecond), true
	}
	return time.Time{}, false
}

// TestRunResumesAfterItsBudgetRanOut runs with a batch of 2 and a budget that runs out after
// three batches: the run stops with Finished false and an audit record saying so, and the next
// run continues from the stored cursor and deletes the rest.
func TestRunResumesAfterItsBudgetRanOut(t *testing.T) {
	w := newWorld(t, 2)
	ten := ids.Random{}.New(ids.Tenant)
	var all []string
	for c := range 4 {
		conv := fmt.Sprintf("%s-c%d", ten, c)
		w.seedConversation(t, ten, conv, msg{"u1", 40}, msg{"u2", 40}, msg{"u1", 40}, msg{"u1", 1})
		all = append(all, conv+"/m3")
	}
	sort.Strings(all)
	if _, err := w.svc.PutPolicy(context.Background(), ten, "test", retention.Periods{MessagesDays: 30}); err != nil {
		t.Fatal(err)
	}
	bctx := &budgetCtx{Context: context.Background()}
	st := &budgetStore{RetentionStore: w.store, after: 3, ctx: bctx}
	res, err := w.service(t, st, 2).Run(bctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finished || len(res.Tenants) != 1 || res.Tenants[0].Finished || res.Deleted[retention.CategoryMessages] != 5 {
		t.Fatalf("first run: %+v, want stopped after 3 batches (5 messages)", res)
	}
	if left := w.messages(t, ten); len(left) != 16-5 {
		t.Fatalf("after the first run %d messages are left, want 11", len(left))
	}
	recs, _, err := w.audit.Query(context.Background(), ten, audit.Filter{Action: retention.AuditAction}, "", 10)
	if err != nil || len(recs) != 1 || recs[0].Details["finished"] != "false" || recs[0].Details["messages"] != "5" {
		t.Fatalf("record of the stopped run: %+v, %v", recs, err)
	}
	cursor, err := w.store.Cursor(context.Background(), ten, retention.CategoryMessages)
	if err != nil || cursor != ten+"-c0" {
		t.Fatalf("cursor after the first run: %q, %v; want the first conversation, done", cursor, err)
	}

	res, err = w.svc.Run(context.Background())
	if err != nil || !res.Finished || res.Deleted[retention.CategoryMessages] != 7 {
		t.Fatalf("second run: %+v, %v; want the remaining 7", res, err)
	}
	if got := w.messages(t, ten); !slices.Equal(got, all) {
		t.Fatalf("after the second run: %v, want only the young %v", got, all)
	}
	if cursor, _ := w.store.Cursor(context.Background(), ten, retention.CategoryMessages); cursor != "" {
		t.Errorf("cursor after a finished pass: %q, want reset", cursor)
	}
}

// TestAuditRecordsDeletedOnlyBelowACheckpoint keeps audit records 365 days: records older than
// that go only up to the last checkpoint before the first younger one, the chain still
// verifies from there, queries still page, and tampering above the floor is still caught.
func TestAuditRecordsDeletedOnlyBelowACheckpoint(t *testing.T) {
	w := newWorld(t, 4)
	ctx := context.Background()
	ten := ids.Random{}.New(ids.Tenant)
	old, young := w.clk.Now().Add(-400*day), w.clk.Now().Add(-10*day)
	// Appended one at a time: the first append makes a checkpoint, then every 5th: 1, 6, 11.
	for i := range 15 {
		at := old.Add(time.Duration(i) * time.Minute)
		if i >= 12 {
			at = young
		}
		_, err := w.audit.Append(ctx, ten, []audit.Input{{ID: fmt.Sprintf("r%d", i+1), Time: at,
			Actor: audit.Actor{Type: audit.ActorSystem, ID: "test"}, Action: "TEST", Outcome: audit.OutcomeSuccess}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.svc.PutPolicy(ctx, ten, "test", retention.Periods{AuditRecordsDays: 100}); !errors.Is(err, retention.ErrBelowFloor) {
		t.Fatalf("a period under the floor: %v, want ErrBelowFloor", err)
	}
	if _, err := w.svc.PutPolicy(ctx, ten, "test", retention.Periods{AuditRecordsDays: retention.AuditFloorDays}); err != nil {
		t.Fatal(err)
	}
	res, err := w.svc.Run(ctx)
	if err != nil || !res.Finished || res.Deleted[retention.CategoryAuditRecords] != 10 {
		t.Fatalf("run: %+v, %v; want seq 1 to 10 deleted (13 is the first young record, 11 the checkpoint before it)", res, err)
	}
	left, err := w.client.Audit().Records(ctx, ten, 1, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 7 || left[0].Seq != 11 || left[5].Seq != 16 || left[5].Action != audit.TrimAction || left[6].Action != retention.AuditAction {
		t.Fatalf("records left: %d from %d; want 11 to 15, the floor's statement 16 and the run's record 17", len(left), left[0].Seq)
	}
	if left[5].Details[audit.TrimFloorDetail] != "11" || left[5].Actor != (audit.Actor{Type: audit.ActorSystem, ID: audit.TrimActorID}) {
		t.Errorf("the floor's statement: %+v, want the system stating floor 11", left[5])
	}
	if left[6].Details["audit_floor_seq"] != "11" || left[6].Details["audit_records"] != "10" {
		t.Errorf("the run's record: %v, want the floor and count it set", left[6].Details)
	}
	v, err := w.audit.Verify(ctx, ten, 1, 0)
	if err != nil || !v.Valid || v.FromSeq != 11 || v.HeadSeq != 17 {
		t.Fatalf("verify after retention: %+v, %v", v, err)
	}
	if _, err := w.audit.Verify(ctx, ten, 2, 5); !errors.Is(err, audit.ErrInvalidRange) {
		t.Errorf("verify of a deleted range: %v, want ErrInvalidRange", err)
	}
	recs, next, err := w.audit.Query(ctx, ten, audit.Filter{}, "", 5)
	if err != nil || len(recs) != 5 || recs[0].Seq != 17 || next == "" {
		t.Fatalf("query page 1: %d records, %v", len(recs), err)
	}
	recs, next, err = w.audit.Query(ctx, ten, audit.Filter{}, next, 5)
	if err != nil || len(recs) != 2 || recs[1].Seq != 11 || next != "" {
		t.Fatalf("query page 2: %+v, %q, %v", recs, next, err)
	}
	// A second run has nothing to delete: the next checkpoint (16) is past the young records.
	if res, err := w.svc.Run(ctx); err != nil || res.Deleted[retention.CategoryAuditRecords] != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	// Raising the floor in the database to the next checkpoint (16) and deleting the records
	// below it is not retention's doing: no statement in the chain declares that floor.
	trims := w.comp.Collection(mongo.AuditTrimsCollection)
	if _, err := trims.UpdateOne(ctx, bson.D{{Key: "_id", Value: ten}}, bson.D{{Key: "$set", Value: bson.D{{Key: "below_seq", Value: int64(16)}}}}); err != nil {
		t.Fatal(err)
	}
	v, err = w.audit.Verify(ctx, ten, 1, 0)
	if err != nil || v.Valid || v.BrokenSeq != 16 || v.Reason != audit.ReasonUnprovenFloor {
		t.Fatalf("verify with a floor no statement declares: %+v, %v", v, err)
	}
	if _, err := trims.UpdateOne(ctx, bson.D{{Key: "_id", Value: ten}}, bson.D{{Key: "$set", Value: bson.D{{Key: "below_seq", Value: int64(11)}}}}); err != nil {
		t.Fatal(err)
	}
	// Deleting a record above the floor is still a gap.
	if _, err := w.comp.Collection(mongo.AuditRecordsCollection).DeleteOne(ctx, bson.D{{Key: "tenant_id", Value: ten}, {Key: "seq", Value: 12}}); err != nil {
		t.Fatal(err)
	}
	v, err = w.audit.Verify(ctx, ten, 1, 0)
	if err != nil || v.Valid || v.BrokenSeq != 12 || v.Reason != audit.ReasonGap {
		t.Fatalf("verify after deleting seq 12: %+v, %v", v, err)
	}
}
