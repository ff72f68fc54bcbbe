package backendtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"caas.dev/shared/s3"
)

// The S3 server is shared by the binary, its bucket exists, and the objects under a test's
// prefix are gone when the test ends.
func TestS3EndpointAndPrefixCleanup(t *testing.T) {
	ep := S3Endpoint(t)
	if ep == "" || S3Endpoint(t) != ep {
		t.Fatalf("S3Endpoint: %q, then another address", ep)
	}
	ctx := context.Background()
	st, err := s3.Open(ctx, S3Config(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("bucket %s: %v", S3Config(t).Bucket, err)
	}
	var key string
	t.Run("writes", func(t *testing.T) {
		key = Prefix(t) + "/tenant/u1/export.zip"
		if err := st.Put(ctx, key, strings.NewReader("zip"), 3, ""); err != nil {
			t.Fatalf("Put: %v", err)
		}
	})
	if _, err := st.Get(ctx, key); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("object %s after its test ended: %v, want ErrNotFound", key, err)
	}
}
