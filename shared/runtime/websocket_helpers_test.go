package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket tests start their own runtimes over testdata/websocket.yaml, one per test, so
// limits and connections of one test never reach another.

var wsBuild struct {
	once sync.Once
	dir  string
	err  error
}

// wsBinaries builds testdata/fn/wsfn once and copies it under the name of every function of the
// WebSocket test template.
func wsBinaries(t testing.TB) string {
	t.Helper()
	wsBuild.once.Do(func() {
		wsBuild.dir = filepath.Join(binDir, "ws")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(wsBuild.dir, "wsfn"), "./testdata/fn/wsfn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			wsBuild.err = fmt.Errorf("build wsfn: %v\n%s", err, out)
			return
		}
		bin, err := os.ReadFile(filepath.Join(wsBuild.dir, "wsfn"))
		if err != nil {
			wsBuild.err = err
			return
		}
		for _, name := range []string{"ws-auth", "ws-connect", "ws-disconnect", "ws-default", "ws-send", "ws-fail"} {
			if err := os.WriteFile(filepath.Join(wsBuild.dir, name), bin, 0o755); err != nil {
				wsBuild.err = err
				return
			}
		}
	})
	if wsBuild.err != nil {
		t.Fatal(wsBuild.err)
	}
	return wsBuild.dir
}

// wsRuntime is one running `caas run` over a WebSocket test template.
type wsRuntime struct {
	url    string // ws://127.0.0.1:port/live
	events string // where wsfn writes the events it gets
	stop   func() // shuts the runtime down and waits for it
}

// mgmtURL is the management API endpoint, with the stage.
func (rt *wsRuntime) mgmtURL() string { return "http" + strings.TrimPrefix(rt.url, "ws") }

func startWS(t testing.TB, tmplFile string, env map[string]string) *wsRuntime {
	t.Helper()
	bins := wsBinaries(t)
	dir := t.TempDir()
	rt := &wsRuntime{events: filepath.Join(dir, "events")}
	envFile := filepath.Join(dir, "env.json")
	vars, _ := json.Marshal(map[string]any{"Parameters": map[string]string{"EVENT_DIR": rt.events}})
	if err := os.WriteFile(envFile, vars, 0o600); err != nil {
		t.Fatal(err)
	}
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	getenv := map[string]string{"CAAS_ADMIN_KEY": "test-admin-key"}
	for k, v := range env {
		getenv[k] = v
	}
	ready := make(chan string, 1)
	cfg := Config{
		Template: filepath.Join("testdata", tmplFile), StateDir: filepath.Join(dir, "state"),
		EnvVarsFile: envFile, NoBuild: true, BinDir: bins, Addr: "127.0.0.1:0", WSAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(logOut, nil)), FunctionLog: logOut, Stdout: logOut,
		Getenv:      func(k string) string { return getenv[k] },
		OnWebSocket: func(url string) { ready <- url },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	select {
	case rt.url = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("runtime did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("runtime did not start in time")
	}
	var once sync.Once
	rt.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("runtime shutdown: %v", err)
			}
		})
	}
	t.Cleanup(rt.stop)
	return rt
}

// dial connects with query appended to the URL; it fails the test unless admitted.
func (rt *wsRuntime) dial(t testing.TB, query string, opts *websocket.DialOptions) (*websocket.Conn, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, rt.url+query, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: status %d: %v", query, status, err)
	}
	id := resp.Header.Get("X-Connection-Id")
	if id == "" {
		t.Fatal("the $connect function's X-Connection-Id header is not on the upgrade response")
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, id
}

// refused dials and returns the status and body of the refused handshake.
func (rt *wsRuntime) refused(t *testing.T, query string, opts *websocket.DialOptions) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, rt.url+query, opts)
	if err == nil {
		c.CloseNow()
		t.Fatalf("dial %s: admitted, want a refusal", query)
	}
	if resp == nil {
		t.Fatalf("dial %s: no response: %v", query, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitEvents waits until wsfn has recorded at least n events of kind (AUTH, CONNECT, MESSAGE,
// DISCONNECT) for the connection, and returns them all.
func (rt *wsRuntime) waitEvents(t testing.TB, connID, kind string, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := rt.recorded(t, connID, kind)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("connection %s: %d %s events, want %d", connID, len(evs), kind, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (rt *wsRuntime) recorded(t testing.TB, connID, kind string) []map[string]any {
	files, _ := filepath.Glob(filepath.Join(rt.events, connID, kind+"-*.json"))
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, ev)
	}
	return out
}

// readText reads one message and fails the test unless it is text.
func readText(t testing.TB, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	typ, data, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v, want text", typ)
	}
	return string(data)
}

// readClose reads until the connection closes and returns the close status the client got.
func readClose(t testing.TB, c *websocket.Conn) websocket.CloseError {
	t.Helper()
	ce, err := closeOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return ce
}

// closeOf reads until the connection closes and returns its close frame's status.
func closeOf(c *websocket.Conn) (websocket.CloseError, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			return ce, fmt.Errorf("read ended without a close frame: %w", err)
		}
		return ce, nil
	}
}

func rc(ev map[string]any) map[string]any {
	m, _ := ev["requestContext"].(map[string]any)
	return m
}
