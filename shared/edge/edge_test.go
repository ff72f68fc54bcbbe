package edge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/fault"
)

type sample struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name string
		body string
		want *fault.Error // nil means success
	}{
		{"valid", `{"name":"a","count":1,"tags":["x"]}`, nil},
		{"empty", ``, ErrEmptyBody},
		{"whitespace", " \n\t", ErrEmptyBody},
		{"malformed", `{"name":`, ErrMalformedJSON},
		{"not json", `hello`, ErrMalformedJSON},
		{"two values", `{"name":"a"} {"name":"b"}`, ErrMalformedJSON},
		{"unknown field", `{"name":"a","admin":true}`, ErrUnknownField},
		{"wrong type string", `{"name":5}`, ErrWrongType},
		{"wrong type number", `{"count":"5"}`, ErrWrongType},
		{"wrong type array", `{"tags":"x"}`, ErrWrongType},
		{"array instead of object", `[1,2]`, ErrWrongType},
		{"invalid utf8", "{\"name\":\"\xff\xfe\"}", ErrInvalidUTF8},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, ErrBodyTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v sample
			err := DecodeJSON([]byte(c.body), &v)
			if c.want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("want %s, got %v", c.want.Code, err)
			}
		})
	}
}

func TestWrongTypeNamesTheField(t *testing.T) {
	var v sample
	err := DecodeJSON([]byte(`{"count":"many"}`), &v)
	fe := fault.As(err)
	if fe == nil || !strings.Contains(fe.Detail, "count") {
		t.Fatalf("detail should name the field: %v", err)
	}
}

func TestProblemFor(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fault.ErrNotFound, 404, "not_found"},
		{ErrBodyTooLarge, 413, "body_too_large"},
		{errors.New("mongo: connection refused to 10.0.0.1"), 500, "internal"},
		{Invalid("email", "must be an email address"), 400, "invalid_field"},
	}
	for _, c := range cases {
		resp := ProblemFor(c.err, "req-1")
		if resp.StatusCode != c.status {
			t.Errorf("%v: status %d, want %d", c.err, resp.StatusCode, c.status)
		}
		if ct := resp.Headers["Content-Type"]; ct != ProblemContentType {
			t.Errorf("content type %q", ct)
		}
		var p Problem
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatal(err)
		}
		if p.Code != c.code || p.Status != c.status || p.RequestID != "req-1" || p.Title == "" || p.Type == "" {
			t.Errorf("%v: problem %+v", c.err, p)
		}
		if strings.Contains(resp.Body, "10.0.0.1") {
			t.Errorf("internal detail leaked: %s", resp.Body)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	e := fault.New(fault.RateLimited, "too_many_attempts", "slow down")
	e.RetryAfter = 30
	resp := ProblemFor(e, "r")
	if resp.StatusCode != 429 || resp.Headers["Retry-After"] != "30" {
		t.Fatalf("got %d %v", resp.StatusCode, resp.Headers)
	}
}

func TestHTTPRecoversPanicsAndPassesIdentity(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	var seen Identity
	h := HTTP(log, func(ctx context.Context, req *Request) (*Response, error) {
		id, err := RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		seen = id
		if req.Query("boom") != "" {
			panic("boom")
		}
		return JSON(200, map[string]string{"ok": "yes"})
	})

	ev := events.APIGatewayV2HTTPRequest{}
	ev.RequestContext.RequestID = "abc"
	resp, err := h(context.Background(), ev)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no identity: got %d %v", resp.StatusCode, err)
	}

	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		Lambda: map[string]interface{}{"tenant_id": "ten_1", "user_id": "usr_1", "role": "user"},
	}
	resp, err = h(context.Background(), ev)
	if err != nil || resp.StatusCode != 200 || seen.TenantID != "ten_1" || seen.UserID != "usr_1" {
		t.Fatalf("identity: got %d %v %+v", resp.StatusCode, err, seen)
	}

	ev.QueryStringParameters = map[string]string{"boom": "1"}
	resp, err = h(context.Background(), ev)
	if err != nil || resp.StatusCode != 500 || !strings.Contains(resp.Body, `"request_id":"abc"`) {
		t.Fatalf("panic: got %d %v %s", resp.StatusCode, err, resp.Body)
	}
}

func TestQueryInt(t *testing.T) {
	r := &Request{}
	r.QueryStringParameters = map[string]string{"limit": "500", "ok": "20", "bad": "x"}
	if n, err := r.QueryInt("missing", 7, 1, 100); err != nil || n != 7 {
		t.Errorf("default: %d %v", n, err)
	}
	if n, err := r.QueryInt("ok", 7, 1, 100); err != nil || n != 20 {
		t.Errorf("ok: %d %v", n, err)
	}
	for _, k := range []string{"limit", "bad"} {
		if _, err := r.QueryInt(k, 7, 1, 100); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%s: want invalid_query, got %v", k, err)
		}
	}
}

// Identity names users only; Caller names users and tenant API keys, and neither accepts a
// context that mixes the two or lacks a tenant.
func TestCaller(t *testing.T) {
	req := func(ctx map[string]any) *Request {
		r := &Request{}
		r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
		return r
	}
	user := map[string]any{"tenant_id": "ten_1", "user_id": "usr_1", "session_id": "ses_1", "role": "admin", "actor": "user"}
	key := map[string]any{"tenant_id": "ten_1", "user_id": "", "session_id": "", "role": "admin", "actor": "api_key"}
	legacy := map[string]any{"tenant_id": "ten_1", "user_id": "usr_1", "role": "user"}

	if id, ok := req(user).Identity(); !ok || id.UserID != "usr_1" || id.Role != "admin" || id.Actor != ActorUser {
		t.Errorf("user Identity = %+v, %v", id, ok)
	}
	if id, ok := req(user).Caller(); !ok || id.UserID != "usr_1" || id.Actor != ActorUser {
		t.Errorf("user Caller = %+v, %v", id, ok)
	}
	if id, ok := req(legacy).Identity(); !ok || id.Actor != ActorUser {
		t.Errorf("a context without actor: Identity = %+v, %v", id, ok)
	}
	if id, ok := req(key).Identity(); ok {
		t.Errorf("an API key is a user: %+v", id)
	}
	if id, ok := req(key).Caller(); !ok || id.TenantID != "ten_1" || id.Role != "admin" || id.Actor != ActorAPIKey || id.UserID != "" {
		t.Errorf("API key Caller = %+v, %v", id, ok)
	}
	for name, ctx := range map[string]map[string]any{
		"api key with a user":  {"tenant_id": "ten_1", "user_id": "usr_1", "role": "admin", "actor": "api_key"},
		"api key without role": {"tenant_id": "ten_1", "actor": "api_key"},
		"no tenant":            {"user_id": "usr_1", "role": "user", "actor": "user"},
		"unknown actor":        {"tenant_id": "ten_1", "role": "admin", "actor": "robot"},
		"user without user id": {"tenant_id": "ten_1", "role": "admin", "actor": "user"},
	} {
		if id, ok := req(ctx).Caller(); ok {
			t.Errorf("%s: Caller = %+v", name, id)
		}
		if id, ok := req(ctx).Identity(); ok {
			t.Errorf("%s: Identity = %+v", name, id)
		}
	}
	if _, ok := (&Request{}).Caller(); ok {
		t.Error("a request no authorizer saw has a caller")
	}
}
