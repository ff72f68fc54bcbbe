package runtime

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testBodyReadTimeout is the body read timeout of the test runtime, short to keep tests fast.
const testBodyReadTimeout = 2 * time.Second

// rawRequest writes raw on a new connection to the test runtime and reads one response.
func rawRequest(t *testing.T, raw string) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body, time.Since(start)
}

func TestTruncatedBodyIsAnswered(t *testing.T) {
	resp, body, took := rawRequest(t, "POST /echo/1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n0123456789")
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408: %s", resp.StatusCode, body)
	}
	if took < testBodyReadTimeout || took > testBodyReadTimeout+5*time.Second {
		t.Errorf("answered after %v, want about %v", took, testBodyReadTimeout)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("content type %q", ct)
	}
	var p struct {
		Status    int    `json:"status"`
		Code      string `json:"code"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != 408 || p.Code != "body_read_timeout" || p.RequestID == "" {
		t.Errorf("problem %s (%v)", body, err)
	}
}

func TestCompleteBodyAfterPause(t *testing.T) {
	// A body within the timeout is served, and the connection serves a second request: the
	// per-request deadline does not linger.
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	for i := 0; i < 2; i++ {
		if _, err := io.WriteString(conn, "POST /echo/1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nab"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(testBodyReadTimeout / 2)
		if _, err := io.WriteString(conn, "cd"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"body":"abcd"`) {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, b)
		}
		// Idle on the kept-alive connection for longer than the body timeout.
		time.Sleep(testBodyReadTimeout + 500*time.Millisecond)
	}
}

func TestOversizedHeadersRefused(t *testing.T) {
	resp, body, _ := rawRequest(t, "GET /echo/1 HTTP/1.1\r\nHost: localhost\r\nX-Big: "+strings.Repeat("a", 200<<10)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431: %.200s", resp.StatusCode, body)
	}
	resp, body, _ = rawRequest(t, "GET /echo/1 HTTP/1.1\r\nHost: localhost\r\nX-Fits: "+strings.Repeat("a", 8<<10)+"\r\n\r\n")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("8 KB header: status %d: %.200s", resp.StatusCode, body)
	}
}
