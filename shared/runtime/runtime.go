// Package runtime is the local host behind `caas run` and `caas invoke`: it reads the SAM
// template, builds the functions, starts embedded backends where no real ones are configured,
// runs every function as its bootstrap process behind the Lambda Runtime API, and serves the
// template's HTTP API.
package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"caas.dev/shared/runtime/httpapi"
	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/wsapi"
)

// DefaultAddr is where the HTTP API listens unless CAAS_HTTP_ADDR says otherwise.
const DefaultAddr = "127.0.0.1:3000"

// MigrateFunction is the logical id of the function run once at start.
const MigrateFunction = "Migrate"

// shutdownGrace bounds how long in-flight requests may take to finish at shutdown.
const shutdownGrace = 10 * time.Second

// Backends holds the addresses of the services the functions use, and how to reach the S3
// bucket: the S3 fields become the functions' S3_* variables.
type Backends struct {
	MongoURI     string `json:"mongo_uri"`
	RedisURL     string `json:"redis_url"`
	KafkaBrokers string `json:"kafka_brokers"`

	S3Endpoint        string `json:"s3_endpoint"`
	S3Region          string `json:"s3_region,omitempty"`
	S3AccessKeyID     string `json:"s3_access_key_id,omitempty"`
	S3SecretAccessKey string `json:"s3_secret_access_key,omitempty"`
	S3Bucket          string `json:"s3_bucket,omitempty"`
}

// DefaultS3Bucket is the bucket the functions use when S3_BUCKET is unset.
const DefaultS3Bucket = "caas"

// BackendNeeds says which embedded backends to start. S3Bucket is the bucket an embedded S3
// server creates at start.
type BackendNeeds struct {
	Mongo, Redis, Kafka, S3 bool
	S3Bucket                string
}

// StartBackends starts the embedded backends need asks for, keeping their data under dir, and
// returns their addresses and what stops them.
type StartBackends func(ctx context.Context, dir string, need BackendNeeds, logger *slog.Logger) (Backends, io.Closer, error)

// Config configures Run and Invoke. Zero fields take the defaults documented on each.
type Config struct {
	Template    string // template.yaml
	StateDir    string // .caas
	EnvVarsFile string // optional sam-style overrides
	NoBuild     bool   // take binaries from BinDir instead of building
	BinDir      string // bin/functions, relative to the template's directory
	Addr        string // CAAS_HTTP_ADDR, else DefaultAddr
	WSAddr      string // the WebSocket API's: CAAS_WS_ADDR, else wsapi.DefaultAddr
	// BodyReadTimeout bounds the read of an HTTP request's body; httpapi.DefaultBodyReadTimeout
	// when zero.
	BodyReadTimeout time.Duration

	Logger      *slog.Logger // JSON to stderr
	FunctionLog io.Writer    // where function output goes; stderr
	Stdout      io.Writer    // the terminal: admin key and ready line; stdout
	Getenv      func(string) string
	// StartBackends starts embedded backends; nil starts none.
	StartBackends StartBackends

	// reuseRunning makes Invoke use the backends of a `caas run` already up with StateDir.
	reuseRunning bool
	// OnReady, when set, is called with the base URL once the API serves.
	OnReady func(url string)
	// OnWebSocket, when set, is called with the WebSocket API's URL once it serves.
	OnWebSocket func(url string)
	// OnHost, when set, receives the function host once built. Tests use it.
	OnHost func(*lambdaapi.Host)
}

func (c Config) withDefaults() Config {
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.Template == "" {
		c.Template = "template.yaml"
	}
	if c.StateDir == "" {
		c.StateDir = ".caas"
	}
	if c.BinDir == "" {
		c.BinDir = filepath.Join("bin", "functions")
	}
	if c.Addr == "" {
		c.Addr = c.Getenv("CAAS_HTTP_ADDR")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.WSAddr == "" {
		c.WSAddr = c.Getenv("CAAS_WS_ADDR")
	}
	if c.WSAddr == "" {
		c.WSAddr = wsapi.DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if c.FunctionLog == nil {
		c.FunctionLog = os.Stderr
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	return c
}

// Run serves the template until ctx ends, then shuts down: in-flight requests finish (bounded),
// function processes are killed and embedded backends closed.
func Run(ctx context.Context, cfg Config) (err error) {
	cfg = cfg.withDefaults()
	s, err := setup(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if cfg.OnHost != nil {
		cfg.OnHost(s.host)
	}

	stateFile := filepath.Join(cfg.StateDir, "backends.json")
	if err := writeBackends(stateFile, s.sharedBackends()); err != nil {
		return err
	}
	defer os.Remove(stateFile)

	gw, err := httpapi.New(s.tmpl, s.host, cfg.Logger)
	if err != nil {
		return fmt.Errorf("HTTP API: %w", err)
	}
	sched, err := newScheduler(s.tmpl, cfg.Getenv, cfg.Logger)
	if err != nil {
		return fmt.Errorf("schedules: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	gw.SetBodyReadTimeout(cfg.BodyReadTimeout)
	srv := httpapi.NewServer(gw)
	defer srv.Close()

	if _, ok := s.tmpl.Functions[MigrateFunction]; ok {
		if _, err := s.host.Invoke(ctx, MigrateFunction, []byte("{}")); err != nil {
			ln.Close()
			return fmt.Errorf("run %s: %w", MigrateFunction, err)
		}
	}
	// Joined before the ready line, so a LATEST trigger misses nothing produced after it.
	triggers, err := startKafkaTriggers(ctx, s.tmpl, s.backends.KafkaBrokers, s.host, cfg.Getenv, cfg.Logger)
	if err != nil {
		ln.Close()
		return fmt.Errorf("kafka triggers: %w", err)
	}
	defer func() { // after a serve error; a no-op after shutdown
		stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		triggers.stop(stopCtx)
	}()

	wsAPI, err := startWebSocket(s)
	if err != nil {
		ln.Close()
		return fmt.Errorf("WebSocket API: %w", err)
	}
	defer func() { // after a serve error; a no-op after shutdown
		stopCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = wsAPI.stop(stopCtx)
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(cfg.Stdout, "caas is ready on %s\n", url)
	cfg.Logger.Info("ready", "url", url, "functions", len(s.tmpl.Functions))
	if cfg.OnReady != nil {
		cfg.OnReady(url)
	}

	sched.start(ctx, s.host)
	defer sched.stop(context.Background()) // after a serve error; a no-op after shutdown

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve HTTP API: %w", err)
	case <-ctx.Done():
	}
	cfg.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		cfg.Logger.Warn("requests still in flight at shutdown", "error", err)
	}
	if err := wsAPI.stop(shutdownCtx); err != nil {
		cfg.Logger.Warn("WebSocket connections still closing at shutdown", "error", err)
	}
	sched.stop(shutdownCtx)
	triggers.stop(shutdownCtx)
	return nil
}

// Invoke invokes one function once with event, as `sam local invoke` does, and returns its
// response. A function error is returned as an error. When a `caas run` with the same state
// directory is up, Invoke uses its backends, so it reads and writes the same data.
func Invoke(ctx context.Context, cfg Config, function string, event []byte) (_ []byte, err error) {
	cfg = cfg.withDefaults()
	cfg.reuseRunning = true
	s, err := setup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if _, ok := s.tmpl.Functions[function]; !ok {
		return nil, fmt.Errorf("invoke %s: no such function in %s; the functions are: %s",
			function, cfg.Template, strings.Join(s.tmpl.FunctionNames(), ", "))
	}
	res, err := s.host.Invoke(ctx, function, event)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	return res.Payload, nil
}

func writeBackends(path string, b Backends) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return fmt.Errorf("encode backends: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
