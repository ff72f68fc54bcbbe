package embedded

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/s3"
)

func s3Store(t *testing.T, endpoint, bucket string) *s3.Store {
	t.Helper()
	st, err := s3.Open(context.Background(), s3.Config{
		Endpoint: endpoint, Region: S3Region, AccessKeyID: S3AccessKeyID,
		SecretAccessKey: S3SecretAccessKey, Bucket: bucket, PathStyle: true,
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// Exports written by one `caas run` are still there after a restart with the same directory,
// and the bucket exists from the start.
func TestS3KeepsObjectsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	b, err := Start(ctx, Options{Dir: dir, S3: true, S3Bucket: "exports"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st := s3Store(t, b.S3Endpoint, "exports")
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("bucket not created at start: %v", err)
	}
	if err := st.Put(ctx, "t1/u1/export.zip", strings.NewReader("zip"), 3, "application/zip"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	addr := strings.TrimPrefix(b.S3Endpoint, "http://")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Close", addr)
	}

	b = start(t, Options{Dir: dir, S3: true, S3Bucket: "exports"})
	rc, err := s3Store(t, b.S3Endpoint, "exports").Get(ctx, "t1/u1/export.zip")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	defer rc.Close()
	if data, _ := io.ReadAll(rc); string(data) != "zip" {
		t.Fatalf("after restart: got %q, want zip", data)
	}
}

func TestS3NeedsDir(t *testing.T) {
	if b, err := Start(context.Background(), Options{S3: true}); err == nil {
		b.Close()
		t.Fatal("Start with S3 and no Dir: no error")
	}
}

func TestCheckS3Request(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	h := checkS3Request(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}), func() time.Time { return now })
	cred := S3AccessKeyID + "/20261204/us-east-1/s3/aws4_request"
	presigned := func(date, expires, credential string) string {
		return "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + credential +
			"&X-Amz-Date=" + date + "&X-Amz-Expires=" + expires + "&X-Amz-Signature=ab"
	}
	for _, tc := range []struct {
		name, target, auth string
		want               int
	}{
		{"unsigned", "/b/k", "", http.StatusTeapot},
		{"header with the key", "/b/k", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=ab", http.StatusTeapot},
		{"header with another key", "/b/k", "AWS4-HMAC-SHA256 Credential=other/20261204/us-east-1/s3/aws4_request, Signature=ab", http.StatusForbidden},
		{"header without credential", "/b/k", "Basic abc", http.StatusForbidden},
		{"presigned, valid", presigned("20261204T115930Z", "60", cred), "", http.StatusTeapot},
		{"presigned, last second", presigned("20261204T115900Z", "60", cred), "", http.StatusTeapot},
		{"presigned, expired", presigned("20261204T115859Z", "60", cred), "", http.StatusForbidden},
		{"presigned, no expiry", presigned("20261204T115930Z", "", cred), "", http.StatusForbidden},
		{"presigned, bad date", presigned("yesterday", "60", cred), "", http.StatusForbidden},
		{"presigned, another key", presigned("20261204T115930Z", "60", "other/x"), "", http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, w.Code, tc.want, w.Body)
		}
	}
}
