package runtime

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/embedded"
	"caas.dev/shared/s3"
)

func s3TestConfig(t *testing.T, env map[string]string, start StartBackends) Config {
	t.Helper()
	return Config{
		Template: filepath.Join("testdata", "template.yaml"), StateDir: t.TempDir(),
		NoBuild: true, BinDir: binDir, Addr: "127.0.0.1:0", WSAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), FunctionLog: io.Discard, Stdout: io.Discard,
		Getenv:        func(k string) string { return env[k] },
		StartBackends: start,
	}.withDefaults()
}

// Without S3_ENDPOINT, the runtime starts the embedded S3 server with the bucket made, and every
// function gets the S3_* variables to reach it.
func TestEmbeddedS3ReachesFunctions(t *testing.T) {
	var asked BackendNeeds
	start := func(ctx context.Context, dir string, need BackendNeeds, logger *slog.Logger) (Backends, io.Closer, error) {
		asked = need
		b, err := embedded.Start(ctx, embedded.Options{Dir: dir, S3: need.S3, S3Bucket: need.S3Bucket, Logger: logger})
		if err != nil {
			return Backends{}, nil, err
		}
		return Backends{S3Endpoint: b.S3Endpoint, S3Region: embedded.S3Region,
			S3AccessKeyID: embedded.S3AccessKeyID, S3SecretAccessKey: embedded.S3SecretAccessKey}, b, nil
	}
	ctx := context.Background()
	s, err := setup(ctx, s3TestConfig(t, map[string]string{
		"CAAS_ADMIN_KEY": "k", "MONGO_URI": "mongodb://unused", "REDIS_URL": "redis://unused", "KAFKA_BROKERS": "unused:9092",
	}, start))
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	defer s.Close()
	if !asked.S3 || asked.Mongo || asked.S3Bucket != DefaultS3Bucket {
		t.Fatalf("asked to start %+v, want S3 alone with bucket %s", asked, DefaultS3Bucket)
	}

	for _, name := range s.tmpl.FunctionNames() {
		env := s.tmpl.Functions[name].Environment
		if !strings.HasPrefix(env["S3_ENDPOINT"], "http://127.0.0.1:") || env["S3_BUCKET"] != DefaultS3Bucket ||
			env["S3_ACCESS_KEY_ID"] != embedded.S3AccessKeyID || env["S3_REGION"] == "" {
			t.Fatalf("function %s: S3 variables %q %q %q %q", name, env["S3_ENDPOINT"], env["S3_BUCKET"], env["S3_ACCESS_KEY_ID"], env["S3_REGION"])
		}
	}
	env := s.tmpl.Functions["Echo"].Environment
	st, err := s3.Open(ctx, s3.ConfigFromEnv(func(k string) string { return env[k] }))
	if err != nil {
		t.Fatalf("open store from a function's variables: %v", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Ping(pingCtx); err != nil {
		t.Fatalf("the bucket a function is told about: %v", err)
	}
	if shared := s.sharedBackends(); shared.S3AccessKeyID != embedded.S3AccessKeyID || shared.S3Endpoint != env["S3_ENDPOINT"] {
		t.Fatalf("backends.json for the embedded S3: %+v, want its endpoint and credentials", shared)
	}
}

// With S3_ENDPOINT set, no S3 server starts; the functions get the configured values, and the
// credentials stay out of backends.json.
func TestConfiguredS3(t *testing.T) {
	started := false
	start := func(context.Context, string, BackendNeeds, *slog.Logger) (Backends, io.Closer, error) {
		started = true
		return Backends{}, nil, nil
	}
	s, err := setup(context.Background(), s3TestConfig(t, map[string]string{
		"CAAS_ADMIN_KEY": "k", "MONGO_URI": "mongodb://unused", "REDIS_URL": "redis://unused", "KAFKA_BROKERS": "unused:9092",
		"S3_ENDPOINT": "https://minio.example:9000", "S3_REGION": "eu-west-1", "S3_ACCESS_KEY_ID": "AKID",
		"S3_SECRET_ACCESS_KEY": "very-secret", "S3_BUCKET": "exports",
	}, start))
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	defer s.Close()
	if started {
		t.Fatal("started embedded backends although every one is configured")
	}
	env := s.tmpl.Functions["Echo"].Environment
	for k, want := range map[string]string{"S3_ENDPOINT": "https://minio.example:9000", "S3_REGION": "eu-west-1",
		"S3_ACCESS_KEY_ID": "AKID", "S3_SECRET_ACCESS_KEY": "very-secret", "S3_BUCKET": "exports"} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	if shared := s.sharedBackends(); shared.S3SecretAccessKey != "" || shared.S3AccessKeyID != "" || shared.S3Endpoint == "" {
		t.Errorf("backends.json would hold %+v: the endpoint without the credentials wanted", shared)
	}
}
