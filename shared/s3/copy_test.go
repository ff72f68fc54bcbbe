package s3_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"caas.dev/shared/s3"
)

func TestCopy(t *testing.T) {
	st, p := open(t)
	ctx := context.Background()
	data := []byte("the completed bytes")
	if err := st.Put(ctx, p+"uploads/a", bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	src, err := st.Stat(ctx, p+"uploads/a")
	if err != nil || src.ETag == "" {
		t.Fatalf("Stat source: %+v %v; want an ETag", src, err)
	}
	if err := st.Copy(ctx, p+"uploads/a", p+"media/a", src.ETag); err != nil {
		t.Fatalf("Copy: %v", err)
	}
	info, err := st.Stat(ctx, p+"media/a")
	if err != nil || info.Size != int64(len(data)) || info.ContentType != "image/png" {
		t.Fatalf("Stat copy: %+v %v; want %d bytes of image/png", info, err, len(data))
	}
	if got := get(t, st, p+"media/a"); !bytes.Equal(got, data) {
		t.Fatalf("copy holds %q, want %q", got, data)
	}

	// The copy stays when the source is replaced or deleted.
	put(t, st, p+"uploads/a", []byte("other bytes"))
	if err := st.Delete(ctx, p+"uploads/a"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, st, p+"media/a"); !bytes.Equal(got, data) {
		t.Fatalf("copy after the source changed holds %q, want %q", got, data)
	}

	if err := st.Copy(ctx, p+"uploads/none", p+"media/b", ""); !errors.Is(err, s3.ErrNotFound) {
		t.Errorf("Copy of a missing object: %v, want ErrNotFound", err)
	}
	if err := st.Copy(ctx, p+"uploads/a", p+"a//b", ""); !errors.Is(err, s3.ErrInvalidKey) {
		t.Errorf("Copy to an invalid key: %v, want ErrInvalidKey", err)
	}
}
