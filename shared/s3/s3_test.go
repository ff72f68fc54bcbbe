package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/s3"
)

// open returns a store on the test server and a key prefix of this test's own, ending in "/".
func open(t *testing.T) (*s3.Store, string) {
	t.Helper()
	ctx := context.Background()
	st, err := s3.Open(ctx, backendtest.S3Config(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := st.EnsureBucket(ctx); err != nil {
		t.Fatalf("EnsureBucket: %v", err)
	}
	return st, backendtest.Prefix(t) + "/"
}

func put(t *testing.T, st *s3.Store, key string, data []byte) {
	t.Helper()
	if err := st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), "application/octet-stream"); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

func get(t *testing.T, st *s3.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func keys(t *testing.T, st *s3.Store, prefix string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List %s: %v", prefix, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, strings.TrimPrefix(o.Key, prefix))
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	st, p := open(t)
	small := []byte(`{"hello":"world"}`)
	put(t, st, p+"t1/small.json", small)
	if got := get(t, st, p+"t1/small.json"); !bytes.Equal(got, small) {
		t.Fatalf("small object: got %q, want %q", got, small)
	}

	big := make([]byte, 10<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	put(t, st, p+"t1/big.bin", big)
	if got := get(t, st, p+"t1/big.bin"); !bytes.Equal(got, big) {
		t.Fatalf("10 MiB object: got %d bytes back, not the ones written", len(got))
	}
	objs, err := st.List(context.Background(), p+"t1/big.bin")
	if err != nil || len(objs) != 1 || objs[0].Size != int64(len(big)) {
		t.Fatalf("List big object: %+v, %v; want one object of %d bytes", objs, err, len(big))
	}

	// Put replaces.
	put(t, st, p+"t1/small.json", []byte("v2"))
	if got := get(t, st, p+"t1/small.json"); string(got) != "v2" {
		t.Fatalf("after overwrite: got %q, want v2", got)
	}
}

func TestPutUnknownSize(t *testing.T) {
	st, p := open(t)
	data := bytes.Repeat([]byte("export line\n"), 1000)
	if err := st.Put(context.Background(), p+"stream.txt", bytes.NewReader(data), -1, "text/plain"); err != nil {
		t.Fatalf("Put with size -1: %v", err)
	}
	if got := get(t, st, p+"stream.txt"); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes back, want %d", len(got), len(data))
	}
}

func TestNotFoundAndDelete(t *testing.T) {
	st, p := open(t)
	ctx := context.Background()
	if _, err := st.Get(ctx, p+"missing"); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("Get missing: got %v, want ErrNotFound", err)
	}
	put(t, st, p+"doomed", []byte("x"))
	for i := range 2 {
		if err := st.Delete(ctx, p+"doomed"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := st.Get(ctx, p+"doomed"); !errors.Is(err, s3.ErrNotFound) {
		t.Fatalf("Get deleted: got %v, want ErrNotFound", err)
	}
	if err := st.Delete(ctx, p+"never-existed"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func TestTenantPrefixes(t *testing.T) {
	st, p := open(t)
	ctx := context.Background()
	for _, k := range []string{
		"tA/users/u1/export.zip", "tA/users/u1/checkpoints/1.json", "tA/users/u10/export.zip",
		"tB/users/u1/export.zip", "tAB/users/u1/export.zip",
	} {
		put(t, st, p+k, []byte(k))
	}
	if got, want := keys(t, st, p+"tA/"), []string{"users/u1/checkpoints/1.json", "users/u1/export.zip", "users/u10/export.zip"}; !slices.Equal(got, want) {
		t.Fatalf("List tA/: got %q, want %q", got, want)
	}

	n, err := st.DeletePrefix(ctx, p+"tA/users/u1/")
	if err != nil || n != 2 {
		t.Fatalf("DeletePrefix tA/users/u1/: %d, %v; want 2 deleted", n, err)
	}
	if got, want := keys(t, st, p), []string{"tA/users/u10/export.zip", "tAB/users/u1/export.zip", "tB/users/u1/export.zip"}; !slices.Equal(got, want) {
		t.Fatalf("after DeletePrefix: got %q, want %q", got, want)
	}
	if n, err := st.DeletePrefix(ctx, p+"tA/users/u1/"); err != nil || n != 0 {
		t.Fatalf("DeletePrefix again: %d, %v; want 0, nil", n, err)
	}
	if _, err := st.DeletePrefix(ctx, p+"tA"); !errors.Is(err, s3.ErrInvalidKey) {
		t.Fatalf("DeletePrefix without trailing slash: got %v, want ErrInvalidKey", err)
	}
	if _, err := st.DeletePrefix(ctx, "/"); !errors.Is(err, s3.ErrInvalidKey) {
		t.Fatalf("DeletePrefix of the whole bucket: got %v, want ErrInvalidKey", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	st, p := open(t)
	ctx := context.Background()
	for _, k := range []string{"", "/abs", p + "a//b", p + "a/../b", p + "./a", p + "a/", "\xff", strings.Repeat("k", 1025)} {
		if err := st.Put(ctx, k, strings.NewReader("x"), 1, ""); !errors.Is(err, s3.ErrInvalidKey) {
			t.Errorf("Put %q: got %v, want ErrInvalidKey", k, err)
		}
		if _, err := st.Get(ctx, k); !errors.Is(err, s3.ErrInvalidKey) {
			t.Errorf("Get %q: got %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestPresignGet(t *testing.T) {
	st, p := open(t)
	ctx := context.Background()
	data := []byte("PK\x03\x04 not really a zip")
	put(t, st, p+"exports/u1.zip", data)

	const ttl = 2 * time.Second
	link, err := st.PresignGet(ctx, p+"exports/u1.zip", ttl)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	issued := time.Now()
	status, body := download(t, link)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("download: %d %q, want 200 and the object", status, body)
	}

	// X-Amz-Date has a resolution of a second.
	time.Sleep(time.Until(issued.Add(ttl + 1500*time.Millisecond)))
	if status, body := download(t, link); status != http.StatusForbidden {
		t.Fatalf("download after the ttl: %d %q, want 403", status, body)
	}

	// A link is bound to its key.
	link, err = st.PresignGet(ctx, p+"exports/u1.zip", time.Minute)
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	if status, _ := download(t, strings.Replace(link, "u1.zip", "u2.zip", 1)); status == http.StatusOK {
		t.Fatalf("a link to u1.zip opened u2.zip")
	}

	for _, bad := range []time.Duration{0, 500 * time.Millisecond, s3.MaxPresignTTL + time.Second} {
		if _, err := st.PresignGet(ctx, p+"exports/u1.zip", bad); err == nil {
			t.Errorf("PresignGet with ttl %v: no error", bad)
		}
	}
}

func download(t *testing.T, link string) (int, []byte) {
	t.Helper()
	res, err := http.Get(link)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read presigned download: %v", err)
	}
	return res.StatusCode, body
}

func TestWrongCredentials(t *testing.T) {
	_, p := open(t)
	cfg := backendtest.S3Config(t)
	cfg.AccessKeyID = "not-" + cfg.AccessKeyID
	st, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := st.Put(context.Background(), p+"x", strings.NewReader("x"), 1, ""); err == nil {
		t.Fatal("Put with an unknown access key succeeded")
	}
}

func TestOpenConfig(t *testing.T) {
	ctx := context.Background()
	for _, cfg := range []s3.Config{
		{Endpoint: "http://127.0.0.1:1"},                   // no bucket
		{Endpoint: "ftp://127.0.0.1:1", Bucket: "b"},       // scheme
		{Endpoint: "http://127.0.0.1:1/path", Bucket: "b"}, // path
		{Endpoint: "127.0.0.1:9000", Bucket: "b"},          // no scheme
	} {
		if _, err := s3.Open(ctx, cfg); err == nil {
			t.Errorf("Open %+v: no error", cfg)
		}
	}
	env := map[string]string{s3.EndpointEnv: "http://127.0.0.1:9000", s3.BucketEnv: "b"}
	if cfg := s3.ConfigFromEnv(func(k string) string { return env[k] }); !cfg.PathStyle || cfg.Bucket != "b" {
		t.Errorf("ConfigFromEnv for a local endpoint: %+v, want path style and bucket b", cfg)
	}
	env[s3.EndpointEnv] = "https://s3.eu-west-1.amazonaws.com"
	if cfg := s3.ConfigFromEnv(func(k string) string { return env[k] }); cfg.PathStyle {
		t.Errorf("ConfigFromEnv for AWS: path style")
	}
	st, err := s3.Open(ctx, s3.Config{Endpoint: "http://127.0.0.1:1", Bucket: "b", AccessKeyID: "k", SecretAccessKey: "s"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	shortCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := st.Ping(shortCtx); err == nil {
		t.Error("Ping of a closed port: no error")
	}
}
