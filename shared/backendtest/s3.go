package backendtest

import (
	"context"
	"os"
	"sync"
	"testing"

	"caas.dev/shared/embedded"
	"caas.dev/shared/s3"
)

// S3Bucket is the bucket tests use unless S3_BUCKET names another. It exists before the first
// test, on the embedded server as on a real one (EnsureBucket creates it).
const S3Bucket = "caas-test"

var (
	s3B      backend
	s3CfgMu  sync.Mutex
	s3CfgVal s3.Config
)

// S3Endpoint returns S3_ENDPOINT when set (after checking that the server answers with the
// S3_* credentials and that the bucket exists or can be made), else the endpoint of an
// embedded S3 server. S3Config gives the rest of what a client needs.
func S3Endpoint(t testing.TB) string {
	t.Helper()
	return s3B.get(t, s3.EndpointEnv, probeS3, func() (string, error) {
		b, err := startEmbedded(embedded.Options{S3: true, S3Bucket: S3Bucket})
		if err != nil {
			return "", err
		}
		s3CfgMu.Lock()
		s3CfgVal = embeddedS3Config(b.S3Endpoint)
		s3CfgMu.Unlock()
		return b.S3Endpoint, nil
	})
}

// S3Config returns the configuration of the S3 server S3Endpoint resolves: its endpoint,
// region, credentials and bucket. Tests keep apart by starting their keys with Prefix(t); the
// objects under it are deleted when the test ends.
func S3Config(t testing.TB) s3.Config {
	t.Helper()
	S3Endpoint(t)
	s3CfgMu.Lock()
	defer s3CfgMu.Unlock()
	return s3CfgVal
}

func embeddedS3Config(endpoint string) s3.Config {
	return s3.Config{
		Endpoint: endpoint, Region: embedded.S3Region, AccessKeyID: embedded.S3AccessKeyID,
		SecretAccessKey: embedded.S3SecretAccessKey, Bucket: S3Bucket, PathStyle: true,
	}
}

// probeS3 checks the server S3_ENDPOINT names and makes its bucket, recording the config.
func probeS3(ctx context.Context, endpoint string) error {
	cfg := s3.ConfigFromEnv(os.Getenv)
	if cfg.Bucket == "" {
		cfg.Bucket = S3Bucket
	}
	st, err := s3.Open(ctx, cfg)
	if err != nil {
		return err
	}
	if err := st.EnsureBucket(ctx); err != nil {
		return err
	}
	s3CfgMu.Lock()
	s3CfgVal = cfg
	s3CfgMu.Unlock()
	return nil
}

// deleteS3Objects deletes the objects whose key starts with prefix, if this binary used S3.
func deleteS3Objects(t testing.TB, prefix string) {
	if !s3B.ok.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	s3CfgMu.Lock()
	cfg := s3CfgVal
	s3CfgMu.Unlock()
	st, err := s3.Open(ctx, cfg)
	if err != nil {
		t.Logf("backendtest: delete %s* objects: %v", prefix, err)
		return
	}
	objects, err := st.List(ctx, prefix)
	if err != nil {
		t.Logf("backendtest: list %s* objects: %v", prefix, err)
		return
	}
	for _, o := range objects {
		if err := st.Delete(ctx, o.Key); err != nil {
			t.Logf("backendtest: delete object %s: %v", o.Key, err)
		}
	}
}
