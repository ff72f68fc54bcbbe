package gdpr_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/media"
	"caas.dev/shared/s3"
)

// Erasure deletes, with the user's media, the object a presigned upload left at
// media.UploadKey after completion.
func TestEraseDeletesTheUploadObjectOfMedia(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	m := f.attach(t, f.ann)
	upload := media.UploadKey(m.TenantID, m.ConversationID, m.ID)
	t.Cleanup(func() { _ = f.objects.Delete(context.Background(), upload) })
	if err := f.objects.Put(ctx, upload, bytes.NewReader([]byte("xyz")), 3, "text/plain"); err != nil {
		t.Fatal(err)
	}
	er, _, err := f.e.Erase(ctx, f.admin, f.ann.UserID, idempotency.Request{})
	if err != nil || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("erase: %+v %v", er, err)
	}
	for _, k := range media.Keys(m) {
		if _, err := f.objects.Stat(ctx, k); !errors.Is(err, s3.ErrNotFound) {
			t.Errorf("object %s after erasure: %v; want it deleted", k, err)
		}
	}
}
