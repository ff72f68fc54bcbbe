package retention_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"caas.dev/shared/ids"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
	"caas.dev/shared/s3"
)

// TestRunDeletesTheUploadObjectOfExpiredMedia checks that a run deletes, with an expired
// media, the object its presigned upload left at media.UploadKey (an upload after completion).
func TestRunDeletesTheUploadObjectOfExpiredMedia(t *testing.T) {
	w := newWorld(t, 10)
	ctx := context.Background()
	store := mongo.NewMediaStore(w.client)
	svc, err := retention.New(retention.Config{Store: w.store, Objects: w.objects, Media: store, Audit: w.audit,
		Clock: w.clk, Batch: 10, Margin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ten := ids.Random{}.New(ids.Tenant)
	conv := ids.Random{}.New(ids.Conversation)
	w.seedConversation(t, ten, conv)
	m := media.Media{ID: ids.Random{}.New(ids.Media), TenantID: ten, ConversationID: conv, UploaderID: "u1",
		Filename: "f", ContentType: "text/plain", Size: 1, Status: media.StatusReady, CreatedAt: w.clk.Now().Add(-40 * day)}
	m.ObjectKey = media.ObjectKey(ten, conv, m.ID)
	keys := media.Keys(m)
	t.Cleanup(func() {
		for _, k := range keys {
			_ = w.objects.Delete(context.Background(), k)
		}
	})
	for _, k := range keys {
		if err := w.objects.Put(ctx, k, bytes.NewReader([]byte("x")), 1, "text/plain"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := store.InsertMedia(ctx, m); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.PutPolicy(ctx, ten, "test", retention.Periods{MediaDays: 30}); err != nil {
		t.Fatal(err)
	}
	if res, err := svc.Run(ctx); err != nil || res.Deleted[retention.CategoryMedia] != 1 {
		t.Fatalf("run: %+v %v", res, err)
	}
	for _, k := range keys {
		if _, err := w.objects.Stat(ctx, k); !errors.Is(err, s3.ErrNotFound) {
			t.Errorf("object %s after the run: %v; want it deleted", k, err)
		}
	}
}
