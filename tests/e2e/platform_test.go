package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
)

// readyDeadline bounds the wait for /health and /ready: the first start runs no build (the test
// built the binaries) but FerretDB, the migration and the functions' cold starts take a while.
const readyDeadline = 3 * time.Minute

// stopDeadline is how long the runtime may take to stop on SIGINT before it is killed.
const stopDeadline = 30 * time.Second

// platform is the running `caas run` process and what the tests need to reach it.
type platform struct {
	root     string // the repository root (holds go.work)
	dir      string // scratch directory for binaries, state and the log
	binDir   string // where the caas command and the functions' binaries are: dir, or another run's
	stateDir string
	addr     string // host:port of the HTTP API
	baseURL  string
	wsAddr   string   // host:port of the WebSocket API and its management API
	env      []string // extra CAAS_ settings of this run, after the address and admin key
	// params are extra variables for every function, through the env-vars file: the template
	// must declare them, as with `sam local --env-vars`.
	params map[string]string
	// ownBackends makes the run start embedded backends even when MONGO_URI, REDIS_URL and
	// KAFKA_BROKERS name real ones, so a second run never joins the first one's consumer groups.
	ownBackends bool
	adminKey    string
	// kmsKeyARN is the KMS key the run's master key is, empty when it is a local key file.
	kmsKeyARN string
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
	waitErr   error
}

// the is the platform every test talks to; TestMain sets it before any test runs.
var the *platform

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	started := time.Now()
	p, err := startPlatform()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the platform did not start: %v\n", err)
		if p != nil {
			p.stop()
			p.printLog(os.Stderr)
			os.RemoveAll(p.dir)
		}
		return 1
	}
	the = p
	fmt.Printf("e2e: caas run ready on %s (WebSocket API on %s) after %s\n", p.addr, p.wsAddr, time.Since(started).Round(time.Millisecond))

	code := m.Run()

	if err := p.stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: clean shutdown failed: %v\n", err)
		code = 1
	}
	if err := p.checkStopped(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: after shutdown: %v\n", err)
		code = 1
	}
	if code != 0 {
		p.printLog(os.Stderr)
	}
	os.RemoveAll(p.dir)
	return code
}

// startPlatform builds the binaries and starts `caas run`, returning once /health and /ready
// answer 200. On error the returned platform, if any, holds what is needed to stop it and read
// its log.
func startPlatform() (*platform, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "caas-e2e-")
	if err != nil {
		return nil, fmt.Errorf("create scratch directory: %w", err)
	}
	p := &platform{root: root, dir: dir, binDir: dir, stateDir: filepath.Join(dir, "state"), logPath: filepath.Join(dir, "caas.log")}
	if err := p.build(); err != nil {
		return p, err
	}
	port, err := freePort()
	if err != nil {
		return p, err
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	p.baseURL = "http://" + p.addr
	if port, err = freePort(); err != nil {
		return p, err
	}
	p.wsAddr = fmt.Sprintf("127.0.0.1:%d", port)
	p.adminKey = randomKey()
	if ep := os.Getenv(backendtest.KMSEnv); ep != "" {
		// A KMS emulator is configured (make test-real): the platform's master key is a KMS key
		// there rather than a local key file.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		arn, err := backendtest.CreateKMSKey(ctx, ep, "caas end-to-end master key")
		cancel()
		if err != nil {
			return p, err
		}
		p.kmsKeyARN = arn
		p.env = append(p.env, "CAAS_KMS_KEY_ID="+arn, "CAAS_KMS_ENDPOINT="+ep, "AWS_REGION="+backendtest.KMSRegion,
			"AWS_ACCESS_KEY_ID=caas-test", "AWS_SECRET_ACCESS_KEY=caas-test")
	}
	if err := p.start(); err != nil {
		return p, err
	}
	if err := p.waitReady(); err != nil {
		return p, err
	}
	return p, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run the test inside the repository")
		}
		dir = parent
	}
}

func (p *platform) build() error {
	steps := []struct {
		env  []string
		args []string
	}{
		{nil, []string{"build", "-o", filepath.Join(p.dir, "caas"), "./shared/cmd/caas"}},
		{[]string{"CGO_ENABLED=0"}, []string{"build", "-tags", "lambda.norpc", "-o", filepath.Join(p.dir, "functions") + "/", "./functions/..."}},
	}
	for _, s := range steps {
		cmd := exec.Command("go", s.args...)
		cmd.Dir = p.root
		cmd.Env = append(os.Environ(), s.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(s.args, " "), err, out)
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomKey returns 32 random bytes as unpadded base64url: 43 characters.
func randomKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// runtimeEnv is the test's environment without anything that would steer the runtime, plus the
// address and admin key of this run. MONGO_URI, REDIS_URL and KAFKA_BROKERS pass through when
// set (make test-real); unset, the runtime starts embedded backends.
func (p *platform) runtimeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "CAAS_"):
			continue
		case (name == "MONGO_URI" || name == "REDIS_URL" || name == "KAFKA_BROKERS") && (value == "" || p.ownBackends):
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "CAAS_HTTP_ADDR="+p.addr, "CAAS_WS_ADDR="+p.wsAddr, "CAAS_ADMIN_KEY="+p.adminKey)
	return append(env, p.env...)
}

func (p *platform) start() error {
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return fmt.Errorf("create runtime log: %w", err)
	}
	envVars := filepath.Join(p.dir, "env-vars.json")
	params := map[string]string{}
	for k, v := range p.params {
		params[k] = v
	}
	doc, _ := json.Marshal(map[string]any{"Parameters": params})
	if err := os.WriteFile(envVars, doc, 0o600); err != nil {
		logFile.Close()
		return fmt.Errorf("write env vars: %w", err)
	}
	cmd := exec.Command(filepath.Join(p.binDir, "caas"), "run",
		"--template", filepath.Join(p.root, "template.yaml"),
		"--state-dir", p.stateDir,
		"--env-vars", envVars,
		"--no-build",
		"--bin-dir", filepath.Join(p.binDir, "functions"))
	cmd.Dir = p.root
	cmd.Env = p.runtimeEnv()
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so a stuck runtime and its function processes can be killed
	// together; SIGTERM if the test binary dies (a go test timeout), so no runtime outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start caas run: %w", err)
	}
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return nil
}

func (p *platform) waitReady() error {
	deadline := time.Now().Add(readyDeadline)
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/health", "/ready"} {
		last := "no answer"
		for {
			select {
			case <-p.exited:
				return fmt.Errorf("caas run exited before %s answered 200: %v", path, p.waitErr)
			default:
			}
			resp, err := hc.Get(p.baseURL + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				last = resp.Status
			} else {
				last = err.Error()
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("GET %s did not answer 200 within %s (last: %s)", path, readyDeadline, last)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return nil
}

// stop sends SIGINT and waits for the runtime to exit, killing its process group after
// stopDeadline. Being killed is an error: clean shutdown is part of the contract.
func (p *platform) stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	select {
	case <-p.exited:
		return fmt.Errorf("caas run had already exited: %v", p.waitErr)
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Errorf("caas run exited with %v after SIGINT", p.waitErr)
		}
		return nil
	case <-time.After(stopDeadline):
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return fmt.Errorf("caas run did not exit within %s of SIGINT and was killed", stopDeadline)
	}
}

// checkStopped reports what a stopped runtime left behind: a listening HTTP or WebSocket port
// or its backends.json.
func (p *platform) checkStopped() error {
	var errs []error
	if c, err := net.DialTimeout("tcp", p.addr, time.Second); err == nil {
		c.Close()
		errs = append(errs, fmt.Errorf("%s still accepts connections", p.addr))
	}
	if c, err := net.DialTimeout("tcp", p.wsAddr, time.Second); err == nil {
		c.Close()
		errs = append(errs, fmt.Errorf("the WebSocket API on %s still accepts connections", p.wsAddr))
	}
	if _, err := os.Stat(filepath.Join(p.stateDir, "backends.json")); err == nil {
		errs = append(errs, errors.New("backends.json was not removed on shutdown"))
	}
	return errors.Join(errs...)
}

// printLog writes the tail of the runtime's output, where the cause of a failure usually is.
func (p *platform) printLog(w *os.File) {
	const maxLines = 400
	f, err := os.Open(p.logPath)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > 2*maxLines {
			lines = lines[len(lines)-maxLines:]
		}
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	fmt.Fprintf(w, "---- last %d lines of the caas run output (%s) ----\n", len(lines), p.logPath)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, "---- end of caas run output ----")
}

// backends is what `caas run` writes to <state-dir>/backends.json: the addresses of the
// services its functions use, so the harness can reach the same ones.
type backends struct {
	MongoURI     string `json:"mongo_uri"`
	RedisURL     string `json:"redis_url"`
	KafkaBrokers string `json:"kafka_brokers"`
}

// backendsOf reads the backends.json of platform p, ending the test when it is missing or
// lacks an address.
func backendsOf(t testing.TB, p *platform) backends {
	t.Helper()
	path := filepath.Join(p.stateDir, "backends.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (caas run writes it once its backends are up): %v", path, err)
	}
	var got backends
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s is not the expected JSON: %v", path, err)
	}
	if got.MongoURI == "" || got.RedisURL == "" || got.KafkaBrokers == "" {
		t.Fatalf("%s lacks an address: mongo_uri %t, redis_url %t, kafka_brokers %t", path,
			got.MongoURI != "", got.RedisURL != "", got.KafkaBrokers != "")
	}
	return got
}
