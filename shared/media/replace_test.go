package media_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"

	"caas.dev/shared/idempotency"
	"caas.dev/shared/media"
	"caas.dev/shared/s3"
)

func TestUploadAfterCompletionChangesNothing(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	content := []byte("the completed bytes")
	up, _, err := f.svc.UploadMedia(ctx, f.ann, f.conv,
		media.NewUpload{Filename: "a.txt", ContentType: "text/plain", Size: int64(len(content))}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if st := post(t, up.Request, content); st >= 300 {
		t.Fatalf("upload status %d", st)
	}
	if _, err := f.svc.CompleteUpload(ctx, f.ann, up.Media.ID); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if _, err := f.objects.Stat(ctx, uploadKey(up.Media)); !errors.Is(err, s3.ErrNotFound) {
		t.Errorf("the upload object is still there after completion: %v", err)
	}

	// The presigned request still works: the same size and type with other bytes, and (where
	// the server checks no policy) another type.
	if st := post(t, up.Request, []byte("REPLACED bytes here")); st >= 300 {
		t.Fatalf("second upload status %d", st)
	}
	other := *up.Request
	other.Fields = map[string]string{}
	for k, v := range up.Request.Fields {
		other.Fields[k] = v
	}
	other.Fields["Content-Type"] = "text/html"
	post(t, &other, []byte("<script>alert(1)</script>"))
	if m, err := f.svc.CompleteUpload(ctx, f.ann, up.Media.ID); err != nil || m.Status != media.StatusReady {
		t.Fatalf("complete again: %+v %v", m, err)
	}

	d, err := f.svc.GetMedia(ctx, f.bob, up.Media.ID)
	if err != nil || d.URL == "" {
		t.Fatalf("get: %+v %v", d, err)
	}
	resp, err := http.Get(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("download after a second upload: %d %s %q; want the completed text/plain %q",
			resp.StatusCode, resp.Header.Get("Content-Type"), got, content)
	}
}
