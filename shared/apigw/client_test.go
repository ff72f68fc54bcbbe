package apigw

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// server answers the management API with status for the first fails calls, then 200, and
// records the last request.
func server(t *testing.T, status int, fails int32, errType string) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var calls atomic.Int32
	var last atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		last.Store(r.Method + " " + r.URL.Path + " " + r.Header.Get("Authorization") + " " + string(body))
		if calls.Add(1) <= fails {
			w.Header().Set("X-Amzn-Errortype", errType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"message":"no"}`))
			return
		}
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(`{"connectedAt":"2025-01-02T03:04:05.678Z","identity":{"sourceIp":"10.0.0.1","userAgent":"ua"},"lastActiveAt":"2025-01-02T03:04:06.000Z"}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &last
}

func TestPostSignsAndSends(t *testing.T) {
	srv, _, last := server(t, 0, 0, "")
	c, err := New(srv.URL+"/live", Options{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PostToConnection(context.Background(), "abc=", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	got := last.Load().(string)
	if !strings.HasPrefix(got, "POST /live/@connections/abc= AWS4-HMAC-SHA256 Credential=") ||
		!strings.Contains(got, "/eu-west-1/execute-api/aws4_request") || !strings.HasSuffix(got, " hi") {
		t.Errorf("request %q", got)
	}
}

func TestGetConnectionDecodes(t *testing.T) {
	srv, _, _ := server(t, 0, 0, "")
	c, _ := New(srv.URL, Options{})
	conn, err := c.GetConnection(context.Background(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 1, 2, 3, 4, 5, 678e6, time.UTC)
	if !conn.ConnectedAt.Equal(want) || conn.SourceIP != "10.0.0.1" || conn.UserAgent != "ua" || conn.LastActiveAt.IsZero() {
		t.Errorf("connection %+v", conn)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		status int
		typ    string
		want   error
	}{
		{410, "GoneException", ErrGone},
		{413, "PayloadTooLargeException", ErrPayloadTooLarge},
		{429, "LimitExceededException", ErrThrottled},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			srv, _, _ := server(t, tt.status, 100, tt.typ)
			c, _ := New(srv.URL, Options{MaxRetries: 2})
			c.sleep = func(context.Context, time.Duration) error { return nil }
			if err := c.DeleteConnection(context.Background(), "x"); !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
	srv, _, _ := server(t, 403, 100, "ForbiddenException")
	c, _ := New(srv.URL, Options{})
	var se *StatusError
	if err := c.PostToConnection(context.Background(), "x", nil); !errors.As(err, &se) || se.Status != 403 || se.Type != "ForbiddenException" {
		t.Errorf("error %v, want a 403 StatusError", err)
	}
}

func TestThrottledIsRetriedWithBackoff(t *testing.T) {
	srv, calls, _ := server(t, 429, 2, "LimitExceededException")
	c, _ := New(srv.URL, Options{MaxRetries: 3})
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	if err := c.PostToConnection(context.Background(), "x", []byte("a")); err != nil {
		t.Fatalf("post after two throttles: %v", err)
	}
	if calls.Load() != 3 || len(waits) != 2 {
		t.Errorf("%d calls, %d waits; want 3 and 2", calls.Load(), len(waits))
	}
	for i, d := range waits {
		if d <= 0 || d > retryBase<<i+time.Millisecond {
			t.Errorf("wait %d of %v is outside (0, %v]", i, d, retryBase<<i)
		}
	}

	srv, calls, _ = server(t, 429, 100, "LimitExceededException")
	c, _ = New(srv.URL, Options{MaxRetries: 3})
	c.sleep = func(context.Context, time.Duration) error { return nil }
	if err := c.PostToConnection(context.Background(), "x", []byte("a")); !errors.Is(err, ErrThrottled) {
		t.Errorf("error %v, want ErrThrottled", err)
	}
	if calls.Load() != 4 {
		t.Errorf("%d calls, want 1 + 3 retries", calls.Load())
	}
}

func TestTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // so the server notices the client hanging up
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL, Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	if err := c.PostToConnection(context.Background(), "x", []byte("a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want a deadline", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the call outlived its timeout by far")
	}
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	for _, e := range []string{"", "ftp://x", "localhost:3001", "http://"} {
		if _, err := New(e, Options{}); err == nil {
			t.Errorf("New(%q) accepted", e)
		}
	}
	if got := regionOf("abc.execute-api.eu-central-1.amazonaws.com"); got != "eu-central-1" {
		t.Errorf("regionOf = %q", got)
	}
}
