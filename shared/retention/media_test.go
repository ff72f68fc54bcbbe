package retention_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/audit"
	"caas.dev/shared/ids"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
)

// TestRunDeletesExpiredMedia sets a 30-day media period on one tenant and checks a run
// deletes, in batches of 2, the objects and documents of its older media, and nothing younger,
// nothing of a held uploader or a held conversation, nothing a conversation override keeps and
// nothing of another tenant; the run's audit record counts them.
func TestRunDeletesExpiredMedia(t *testing.T) {
	w := newWorld(t, 2)
	ctx := context.Background()
	store := mongo.NewMediaStore(w.client)
	svc, err := retention.New(retention.Config{Store: w.store, Objects: w.objects, Media: store, Audit: w.audit,
		Clock: w.clk, Batch: 2, Margin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, b := ids.Random{}.New(ids.Tenant), ids.Random{}.New(ids.Tenant)
	type item struct {
		conv, uploader string
		age            int
	}
	seed := func(ten string, items ...item) {
		for _, conv := range []string{"c1", "held", "forever", "short"} {
			w.seedConversation(t, ten, ten+"-"+conv)
		}
		for i, it := range items {
			conv := ten + "-" + it.conv
			m := media.Media{ID: fmt.Sprintf("%s/%d", conv, i), TenantID: ten, ConversationID: conv, UploaderID: it.uploader,
				Filename: "f", ContentType: "text/plain", Size: 1, Status: media.StatusReady,
				CreatedAt: w.clk.Now().Add(-time.Duration(it.age) * day)}
			m.ObjectKey = w.prefix + "/media/" + ten + "/" + it.conv + "/" + fmt.Sprint(i)
			if err := w.objects.Put(ctx, m.ObjectKey, bytes.NewReader([]byte("x")), 1, "text/plain"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := store.InsertMedia(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	items := []item{
		{"c1", "u1", 40}, {"c1", "u2", 31}, {"c1", "u1", 29}, {"c1", heldUser, 40}, {"c1", "u2", 100},
		{"held", "u1", 40}, {"forever", "u1", 400}, {"short", "u1", 10}, {"short", "u1", 3},
	}
	seed(a, items...)
	seed(b, items...)
	if _, err := svc.PutPolicy(ctx, a, "test", retention.Periods{MediaDays: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutOverride(ctx, retention.Override{TenantID: a, ConversationID: a + "-forever", MediaDays: intp(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutOverride(ctx, retention.Override{TenantID: a, ConversationID: a + "-short", MediaDays: intp(5)}); err != nil {
		t.Fatal(err)
	}
	w.seedUser(t, a, heldUser)
	for _, h := range []retention.Hold{{TenantID: a, UserID: heldUser, Reason: "litigation"}, {TenantID: a, ConversationID: a + "-held", Reason: "audit"}} {
		if _, err := svc.PlaceHold(ctx, h); err != nil {
			t.Fatal(err)
		}
	}

	res, err := svc.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Finished || len(res.Tenants) != 1 || res.Tenants[0].Error != "" || res.Deleted[retention.CategoryMedia] != 4 ||
		res.Deleted[retention.CategoryMessages] != 0 {
		t.Fatalf("run: %+v", res)
	}
	left := func(ten string) []string {
		return w.ids(t, w.platform, mongo.MediaCollection, bson.D{{Key: "tenant_id", Value: ten}})
	}
	want := []string{a + "-c1/2", a + "-c1/3", a + "-forever/6", a + "-held/5", a + "-short/8"}
	sort.Strings(want)
	if got := left(a); !slices.Equal(got, want) {
		t.Errorf("media left:\n got %v\nwant %v", got, want)
	}
	if got := left(b); len(got) != len(items) {
		t.Errorf("media of the other tenant: %v", got)
	}
	for _, ten := range []string{a, b} {
		objs, err := w.objects.List(ctx, w.prefix+"/media/"+ten+"/")
		if err != nil {
			t.Fatal(err)
		}
		wantObjs := len(items)
		if ten == a {
			wantObjs = len(want)
		}
		if len(objs) != wantObjs {
			t.Errorf("objects of %s left: %d, want %d", ten, len(objs), wantObjs)
		}
	}
	recs, _, err := w.audit.Query(ctx, a, audit.Filter{Action: retention.AuditAction}, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Details["media"] != "4" || recs[0].Details["finished"] != "true" {
		t.Fatalf("run's audit record: %+v", recs)
	}

	// Releasing the conversation hold lets the next run delete its old media.
	hs, err := svc.Holds(ctx, a)
	if err != nil || len(hs) != 2 {
		t.Fatalf("holds: %v, %v", hs, err)
	}
	for _, h := range hs {
		if h.ConversationID != "" {
			if err := svc.ReleaseHold(ctx, a, h.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err = svc.Run(ctx)
	if err != nil || res.Deleted[retention.CategoryMedia] != 1 {
		t.Fatalf("run after release: %+v, %v", res, err)
	}
	if got := w.ids(t, w.platform, mongo.MediaCollection, bson.D{{Key: "conversation_id", Value: a + "-held"}}); len(got) != 0 {
		t.Errorf("held conversation's media after release: %v", got)
	}
}
