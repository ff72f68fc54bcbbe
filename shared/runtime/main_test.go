package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/runtime/lambdaapi"
)

// The whole package shares one runtime, started by TestMain on a free port over testdata.
var (
	baseURL string
	host    *lambdaapi.Host
	binDir  string

	reportsMu sync.Mutex
	reports   = map[string][]lambdaapi.Report{}
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "caas-runtime-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	if err := buildTestFunctions(binDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	cfg := Config{
		Template: filepath.Join("testdata", "template.yaml"), StateDir: filepath.Join(tmp, "state"),
		NoBuild: true, BinDir: binDir, Addr: "127.0.0.1:0", BodyReadTimeout: testBodyReadTimeout,
		Logger: slog.New(slog.NewJSONHandler(logOut, nil)), FunctionLog: logOut, Stdout: logOut,
		Getenv:  func(k string) string { return map[string]string{"CAAS_ADMIN_KEY": "test-admin-key"}[k] },
		OnReady: func(url string) { ready <- url },
		OnHost: func(h *lambdaapi.Host) {
			host = h
			h.OnReport = func(fn string, r lambdaapi.Report) {
				reportsMu.Lock()
				reports[fn] = append(reports[fn], r)
				reportsMu.Unlock()
			}
		},
	}
	go func() { done <- Run(ctx, cfg) }()
	select {
	case baseURL = <-ready:
	case err := <-done:
		fmt.Fprintln(os.Stderr, "runtime did not start:", err)
		cancel()
		return 1
	case <-time.After(60 * time.Second):
		fmt.Fprintln(os.Stderr, "runtime did not start in time")
		cancel()
		return 1
	}

	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "runtime shutdown:", err)
		return 1
	}
	if _, err := os.Stat(filepath.Join(tmp, "state", "backends.json")); err == nil {
		fmt.Fprintln(os.Stderr, "backends.json left behind after shutdown")
		return 1
	}
	return code
}

// buildTestFunctions builds testdata/fn/* (ignored by ./... patterns) in one go invocation, and
// copies echo under the names of the other functions that reuse it.
func buildTestFunctions(dir string) error {
	args := []string{"build", "-tags", "lambda.norpc", "-o", dir + "/"}
	for _, fn := range []string{"echo", "slow", "crash", "init-fail", "authorizer"} {
		args = append(args, "./testdata/fn/"+fn)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build test functions: %v\n%s", err, out)
	}
	echo, err := os.ReadFile(filepath.Join(dir, "echo"))
	if err != nil {
		return err
	}
	for _, name := range []string{"limited", "migrate"} {
		if err := os.WriteFile(filepath.Join(dir, name), echo, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// call sends a request to the runtime and returns the response and its body.
func call(t testing.TB, method, path string, body []byte, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// echoEvent decodes the event the echo function answered with.
func echoEvent(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("echo body is not an event: %v: %s", err, body)
	}
	return ev
}

func lastReport(fn string) (lambdaapi.Report, bool) {
	reportsMu.Lock()
	defer reportsMu.Unlock()
	rs := reports[fn]
	if len(rs) == 0 {
		return lambdaapi.Report{}, false
	}
	return rs[len(rs)-1], true
}

func wantGatewayMessage(t *testing.T, resp *http.Response, body []byte, status int, message string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	want := fmt.Sprintf(`{"message":%q}`, message)
	if string(body) != want {
		t.Errorf("body %s, want %s", body, want)
	}
	if resp.Header.Get("Apigw-Requestid") == "" {
		t.Error("no apigw-requestid header")
	}
}
