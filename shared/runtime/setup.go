package runtime

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"caas.dev/shared/keys"
	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/template"
	"caas.dev/shared/runtime/wsapi"
)

// stack is everything a run or an invoke holds: backends, the template and the function host.
type stack struct {
	cfg      Config
	backends Backends
	closer   io.Closer
	tmpl     *template.Template
	host     *lambdaapi.Host
	wsLn     net.Listener // the WebSocket API's, open from setup until Run serves it
	// s3Embedded is set when the S3 server is an embedded one, started here or adopted.
	s3Embedded bool
}

// Close stops the function processes, then the backends.
func (s *stack) Close() error {
	var errs []error
	if s.wsLn != nil {
		_ = s.wsLn.Close() // already closed once served
	}
	if s.host != nil {
		errs = append(errs, s.host.Close())
	}
	if s.closer != nil {
		if err := s.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close backends: %w", err))
		}
	}
	return errors.Join(errs...)
}

func setup(ctx context.Context, cfg Config) (_ *stack, err error) {
	s := &stack{cfg: cfg}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	envVars, err := readEnvVars(cfg.EnvVarsFile)
	if err != nil {
		return nil, err
	}
	// The functions are built before any backend starts, so a build error shows at once.
	names, err := template.Load(cfg.Template, nil)
	if err != nil {
		return nil, err
	}
	bins, err := s.binaries(ctx, names)
	if err != nil {
		return nil, err
	}
	if err := s.startBackends(ctx); err != nil {
		return nil, err
	}
	adminKey, err := s.adminKey()
	if err != nil {
		return nil, err
	}

	overrides := map[string]string{"AdminKey": adminKey}
	functionEnv, err := s.masterKey(overrides)
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]string{"MongoUri": s.backends.MongoURI, "RedisUrl": s.backends.RedisURL, "KafkaBrokers": s.backends.KafkaBrokers,
		"S3Endpoint": s.backends.S3Endpoint, "S3Region": s.backends.S3Region, "S3AccessKeyId": s.backends.S3AccessKeyID,
		"S3SecretAccessKey": s.backends.S3SecretAccessKey, "S3Bucket": s.backends.S3Bucket} {
		if v != "" {
			overrides[k] = v
		}
	}
	s.tmpl, err = template.Load(cfg.Template, overrides)
	if err != nil {
		return nil, err
	}

	wsAddr, err := s.listenWebSocket()
	if err != nil {
		return nil, err
	}

	s.host = lambdaapi.NewHost(cfg.Logger, cfg.FunctionLog)
	for _, name := range s.tmpl.FunctionNames() {
		fn := s.tmpl.Functions[name]
		env := fn.Environment
		for k, v := range s.backends.env() {
			if v != "" {
				env[k] = v
			}
		}
		maps.Copy(env, functionEnv)
		wsapi.RewriteEndpoints(env, s.tmpl.WebSocketAPIs, wsAddr)
		envVars.apply(name, env)
		s.host.Add(lambdaapi.FunctionConfig{
			Name: name, Bootstrap: bins[name], Env: env, Timeout: fn.Timeout,
			MemoryMB: fn.MemorySize, MaxInstances: fn.ReservedConcurrency,
		})
	}
	return s, nil
}

// startBackends starts an embedded backend for each address its variable leaves unset.
func (s *stack) startBackends(ctx context.Context) error {
	s.backends = Backends{
		MongoURI:     s.cfg.Getenv("MONGO_URI"),
		RedisURL:     s.cfg.Getenv("REDIS_URL"),
		KafkaBrokers: s.cfg.Getenv("KAFKA_BROKERS"),
	}
	if ep := s.cfg.Getenv("S3_ENDPOINT"); ep != "" {
		s.backends.S3Endpoint = ep
		s.backends.S3Region = s.cfg.Getenv("S3_REGION")
		s.backends.S3AccessKeyID = s.cfg.Getenv("S3_ACCESS_KEY_ID")
		s.backends.S3SecretAccessKey = s.cfg.Getenv("S3_SECRET_ACCESS_KEY")
	}
	s.backends.S3Bucket = s.cfg.Getenv("S3_BUCKET")
	if s.backends.S3Bucket == "" {
		s.backends.S3Bucket = DefaultS3Bucket
	}
	if s.cfg.reuseRunning {
		s.adoptRunning()
	}
	need := BackendNeeds{Mongo: s.backends.MongoURI == "", Redis: s.backends.RedisURL == "", Kafka: s.backends.KafkaBrokers == "",
		S3: s.backends.S3Endpoint == "", S3Bucket: s.backends.S3Bucket}
	if s.cfg.StartBackends == nil || !(need.Mongo || need.Redis || need.Kafka || need.S3) {
		return nil
	}
	got, closer, err := s.cfg.StartBackends(ctx, filepath.Join(s.cfg.StateDir, "data"), need, s.cfg.Logger)
	if err != nil {
		return fmt.Errorf("start embedded backends: %w", err)
	}
	s.closer = closer
	if need.Mongo {
		s.backends.MongoURI = got.MongoURI
	}
	if need.Redis {
		s.backends.RedisURL = got.RedisURL
	}
	if need.Kafka {
		s.backends.KafkaBrokers = got.KafkaBrokers
	}
	if need.S3 && got.S3Endpoint != "" {
		s.backends.S3Endpoint, s.backends.S3Region = got.S3Endpoint, got.S3Region
		s.backends.S3AccessKeyID, s.backends.S3SecretAccessKey = got.S3AccessKeyID, got.S3SecretAccessKey
		s.s3Embedded = true
	}
	return nil
}

// env returns the functions' variables for the backends that have an address.
func (b Backends) env() map[string]string {
	env := map[string]string{}
	for k, v := range map[string]string{"MONGO_URI": b.MongoURI, "REDIS_URL": b.RedisURL, "KAFKA_BROKERS": b.KafkaBrokers} {
		if v != "" {
			env[k] = v
		}
	}
	if b.S3Endpoint != "" {
		env["S3_ENDPOINT"], env["S3_BUCKET"] = b.S3Endpoint, b.S3Bucket
		for k, v := range map[string]string{"S3_REGION": b.S3Region, "S3_ACCESS_KEY_ID": b.S3AccessKeyID, "S3_SECRET_ACCESS_KEY": b.S3SecretAccessKey} {
			if v != "" {
				env[k] = v
			}
		}
	}
	return env
}

// sharedBackends is what backends.json records for a `caas invoke`: the addresses, and the S3
// credentials only when they are the embedded server's. Credentials from the environment stay
// out of the file; an invoke run with the same environment reads them there.
func (s *stack) sharedBackends() Backends {
	b := s.backends
	if !s.s3Embedded {
		b.S3AccessKeyID, b.S3SecretAccessKey = "", ""
	}
	return b
}

// adoptRunning fills each unset backend address from the backends.json of a `caas run` that
// is up with the same state directory, so `caas invoke` sees the same data as the running
// platform (its embedded FerretDB holds a lock on the data directory, so a second one could
// not open it anyway). An address whose port does not answer is left unset: the file of a
// run that was killed is stale.
func (s *stack) adoptRunning() {
	data, err := os.ReadFile(filepath.Join(s.cfg.StateDir, "backends.json"))
	if err != nil {
		return
	}
	var running Backends
	if json.Unmarshal(data, &running) != nil {
		return
	}
	adopt := func(current *string, addr string) {
		if *current == "" && addr != "" && answers(addr) {
			*current = addr
		}
	}
	adopt(&s.backends.MongoURI, running.MongoURI)
	adopt(&s.backends.RedisURL, running.RedisURL)
	adopt(&s.backends.KafkaBrokers, running.KafkaBrokers)
	if s.backends.S3Endpoint == "" && running.S3Endpoint != "" && running.S3AccessKeyID != "" && answers(running.S3Endpoint) {
		s.backends.S3Endpoint, s.backends.S3Region = running.S3Endpoint, running.S3Region
		s.backends.S3AccessKeyID, s.backends.S3SecretAccessKey = running.S3AccessKeyID, running.S3SecretAccessKey
		s.backends.S3Bucket = running.S3Bucket
		s.s3Embedded = true
	}
}

// answers reports whether the first host:port of a backend address accepts a connection.
func answers(addr string) bool {
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		hostport = u.Host
	}
	hostport, _, _ = strings.Cut(hostport, ",")
	conn, err := net.DialTimeout("tcp", hostport, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// awsPassthrough are the variables of the runtime's own environment handed to every function,
// as `sam local` does: the region and credentials an AWS master key (KMS) is reached with.
var awsPassthrough = []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE"}

// masterKey chooses the key service's master key and returns the variables every function gets
// for it. With CAAS_KMS_KEY_ID set (and CAAS_KMS_ENDPOINT for an emulator), the template's
// MasterKeyId and KmsEndpoint parameters take them and the AWS variables pass through. Otherwise
// the functions share a local key file, CAAS_MASTER_KEY_FILE or master.key in the state
// directory, made here (32 random bytes, mode 0600) when missing. Losing the file makes
// everything encrypted under it unreadable, so it lives with the data it protects; it is never
// shown.
func (s *stack) masterKey(overrides map[string]string) (map[string]string, error) {
	env := map[string]string{}
	if id := s.cfg.Getenv("CAAS_KMS_KEY_ID"); id != "" {
		overrides["MasterKeyId"] = id
		if ep := s.cfg.Getenv("CAAS_KMS_ENDPOINT"); ep != "" {
			overrides["KmsEndpoint"] = ep
		}
		for _, k := range awsPassthrough {
			if v := s.cfg.Getenv(k); v != "" {
				env[k] = v
			}
		}
		return env, nil
	}
	path := s.cfg.Getenv("CAAS_MASTER_KEY_FILE")
	if path == "" {
		path = filepath.Join(s.cfg.StateDir, "master.key")
	}
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if _, err := keys.OpenFileMaster(path); err != nil {
		return nil, err
	}
	env["CAAS_MASTER_KEY_FILE"] = path
	return env, nil
}

// adminKey returns CAAS_ADMIN_KEY, else the stored key, else a new key it stores and shows once
// on the terminal. The key never reaches the logs.
func (s *stack) adminKey() (string, error) {
	if k := s.cfg.Getenv("CAAS_ADMIN_KEY"); k != "" {
		return k, nil
	}
	path := filepath.Join(s.cfg.StateDir, "admin-key")
	if b, err := os.ReadFile(path); err == nil {
		if k := strings.TrimSpace(string(b)); k != "" {
			fmt.Fprintf(s.cfg.Stdout, "admin key: stored in %s\n", path)
			return k, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read admin key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate admin key: %w", err)
	}
	key := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store admin key: %w", err)
	}
	fmt.Fprintf(s.cfg.Stdout, "admin key: %s (stored in %s)\n", key, path)
	return key, nil
}

// binaries returns each function's bootstrap path: freshly built into the state directory, or
// taken from BinDir with NoBuild.
func (s *stack) binaries(ctx context.Context, tmpl *template.Template) (map[string]string, error) {
	root := filepath.Dir(s.cfg.Template)
	dir := s.cfg.BinDir
	if !s.cfg.NoBuild {
		dir = filepath.Join(s.cfg.StateDir, "build")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create build directory: %w", err)
		}
		// -s -w: no symbol table or DWARF. Linking every function is most of a build once the
		// packages are compiled, and this cuts its time and the binaries' size; panics still
		// print full stack traces.
		args := []string{"build", "-tags", "lambda.norpc", "-ldflags=-s -w", "-o", dir + string(filepath.Separator)}
		for _, name := range tmpl.FunctionNames() {
			pkg := "./functions/" + template.KebabCase(name)
			if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
				return nil, fmt.Errorf("function %s: its package %s: %w", name, pkg, err)
			}
			args = append(args, pkg)
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = s.cfg.FunctionLog, s.cfg.FunctionLog
		s.cfg.Logger.Info("building functions", "count", len(tmpl.FunctionNames()), "dir", dir)
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build functions: %w", err)
		}
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("function binaries: %w", err)
	}
	bins := map[string]string{}
	for _, name := range tmpl.FunctionNames() {
		p := filepath.Join(abs, template.KebabCase(name))
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("function %s: bootstrap: %w (run make build, or drop --no-build)", name, err)
		}
		bins[name] = p
	}
	return bins, nil
}

// envVars is an override file as `sam local --env-vars` reads it: "Parameters" applies to every
// function, a function's logical id to that function alone. As in SAM, only variables the
// template declares are overridden.
type envVars struct {
	Parameters map[string]string
	Functions  map[string]map[string]string
}

func readEnvVars(path string) (envVars, error) {
	var ev envVars
	if path == "" {
		return ev, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ev, fmt.Errorf("read env vars: %w", err)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return ev, fmt.Errorf("env vars %s: want {\"Parameters\": {...}, \"FunctionName\": {...}}: %w", path, err)
	}
	ev.Functions = map[string]map[string]string{}
	for k, m := range raw {
		vars := map[string]string{}
		for name, v := range m {
			if s, ok := v.(string); ok {
				vars[name] = s
			} else {
				vars[name] = strings.Trim(fmt.Sprint(v), "\"")
			}
		}
		if k == "Parameters" {
			ev.Parameters = vars
		} else {
			ev.Functions[k] = vars
		}
	}
	return ev, nil
}

func (ev envVars) apply(function string, env map[string]string) {
	for _, src := range []map[string]string{ev.Parameters, ev.Functions[function]} {
		for k, v := range src {
			if _, declared := env[k]; declared {
				env[k] = v
			}
		}
	}
}
