package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// client is a plain HTTP client for the platform's API.
type client struct {
	base string
	hc   *http.Client
}

var (
	clientOnce   sync.Once
	sharedClient *client
)

// api returns the client for the running platform; one is shared so its connections are reused.
func api() *client {
	clientOnce.Do(func() {
		sharedClient = &client{
			base: the.baseURL,
			hc: &http.Client{
				Timeout:   30 * time.Second,
				Transport: &http.Transport{MaxIdleConnsPerHost: 64},
			},
		}
	})
	return sharedClient
}

// reply is one HTTP answer: status, headers, raw body and the body decoded as JSON (nil when it
// is not JSON).
type reply struct {
	method, path string
	status       int
	header       http.Header
	raw          []byte
	json         any
}

// hdr is a set of request headers.
type hdr map[string]string

func bearer(token string) hdr { return hdr{"Authorization": "Bearer " + token} }

// send performs one request. A body of type []byte or string is sent as is; anything else
// non-nil is encoded as JSON.
func (c *client) send(method, path string, h hdr, body any) (*reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	r := &reply{method: method, path: path, status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			r.json = v
		}
	}
	return r, nil
}

// do is send for a test: a transport error ends the test.
func (c *client) do(t testing.TB, method, path string, h hdr, body any) *reply {
	t.Helper()
	r, err := c.send(method, path, h, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *reply) String() string {
	body := string(r.raw)
	if len(body) > 600 {
		body = body[:600] + "..."
	}
	return fmt.Sprintf("%s %s -> %d %s %s", r.method, r.path, r.status, r.header.Get("Content-Type"), body)
}

// obj returns the body as a JSON object, or nil.
func (r *reply) obj() map[string]any {
	m, _ := r.json.(map[string]any)
	return m
}

// str returns a string field of the body's object, or "".
func (r *reply) str(key string) string {
	s, _ := r.obj()[key].(string)
	return s
}

// num returns a number field of the body's object, or -1.
func (r *reply) num(key string) float64 {
	n, ok := r.obj()[key].(float64)
	if !ok {
		return -1
	}
	return n
}

// items returns the "items" array of a list answer.
func (r *reply) items() []map[string]any {
	arr, _ := r.obj()["items"].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

// wantStatus checks the status and that the answer is JSON; it reports whether both hold.
func wantStatus(t testing.TB, r *reply, status int) bool {
	t.Helper()
	if r.status != status {
		t.Errorf("want status %d: %s", status, r)
		return false
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("want Content-Type application/json, got %q: %s", ct, r)
		return false
	}
	if r.json == nil {
		t.Errorf("want a JSON body: %s", r)
		return false
	}
	return true
}

// mustStatus is wantStatus that ends the test, for answers later steps depend on.
func mustStatus(t testing.TB, r *reply, status int) {
	t.Helper()
	if !wantStatus(t, r, status) {
		t.FailNow()
	}
}

// wantFields checks that the body's object has every named field, non-empty.
func wantFields(t testing.TB, r *reply, fields ...string) {
	t.Helper()
	m := r.obj()
	for _, f := range fields {
		v, ok := m[f]
		if !ok || v == nil || v == "" {
			t.Errorf("want field %q: %s", f, r)
		}
	}
}

// wantProblem checks an RFC 9457 problem answer: the status, the problem content type, every
// member (type, title, status, detail, code, request_id), and the code when codes are given (any
// of them). A problem is never a 500.
func wantProblem(t testing.TB, r *reply, status int, codes ...string) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("want a %d problem, got a server error: %s", status, r)
		return
	}
	if r.status != status {
		t.Errorf("want status %d: %s", status, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Errorf("want Content-Type application/problem+json, got %q: %s", ct, r)
		return
	}
	m := r.obj()
	if m == nil {
		t.Errorf("want a problem object: %s", r)
		return
	}
	for _, f := range []string{"type", "title", "detail", "code", "request_id"} {
		if s, _ := m[f].(string); s == "" {
			t.Errorf("problem lacks %q: %s", f, r)
		}
	}
	if n, _ := m["status"].(float64); int(n) != r.status {
		t.Errorf("problem status %v differs from the HTTP status %d", m["status"], r.status)
	}
	if code := r.str("code"); len(codes) > 0 && !slices.Contains(codes, code) {
		t.Errorf("want problem code %v, got %q: %s", codes, code, r)
	}
}

// wantGateway checks one of API Gateway's own answers: {"message": msg} as application/json.
func wantGateway(t testing.TB, r *reply, status int, msg string) {
	t.Helper()
	if r.status != status {
		t.Errorf("want the gateway's %d: %s", status, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("want Content-Type application/json, got %q: %s", ct, r)
	}
	if got := r.str("message"); got != msg || len(r.obj()) != 1 {
		t.Errorf(`want {"message":%q}: %s`, msg, r)
	}
}

// jsonString encodes v canonically enough to compare two decoded bodies: encoding/json sorts
// map keys.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
