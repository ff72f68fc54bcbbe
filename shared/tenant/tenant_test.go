package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
)

// memStore is a hand-written in-memory Store; the Mongo one is checked by tenanttest.
type memStore struct {
	mu sync.Mutex
	m  map[string]Tenant
}

func (s *memStore) CreateTenant(_ context.Context, t Tenant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[t.ID]; ok {
		return ErrExists
	}
	s.m[t.ID] = t
	return nil
}

func (s *memStore) TenantByID(_ context.Context, id string) (Tenant, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[id]
	if !ok {
		return Tenant{}, ErrNotFound
	}
	return t, nil
}

// memKeys is a hand-written in-memory idempotency.Store; the Mongo one is checked by tenanttest.
type memKeys struct {
	mu sync.Mutex
	m  map[string]idempotency.Claim
}

func (k *memKeys) Claim(_ context.Context, c idempotency.Claim) (idempotency.Claim, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if held, ok := k.m[c.Scope+"|"+c.Key]; ok {
		return held, false, nil
	}
	k.m[c.Scope+"|"+c.Key] = c
	return c, true, nil
}

func newService() *Service {
	return &Service{Store: &memStore{m: map[string]Tenant{}}, Keys: &memKeys{m: map[string]idempotency.Claim{}},
		Clock: clock.NewFixed(time.Unix(1e9, 0)), IDs: ids.Random{}}
}

func TestCreateAndAuthenticate(t *testing.T) {
	svc := newService()
	ten, key, err := svc.Create(t.Context(), "  Acme ", idempotency.Request{})
	if err != nil || ten.Name != "Acme" {
		t.Fatalf("Create: %+v %v", ten, err)
	}
	if !strings.HasPrefix(key, "caas_sk_"+ten.ID+"_") || strings.Contains(ten.APIKeyHash, key) {
		t.Fatalf("key %q hash %q", key, ten.APIKeyHash)
	}
	if got, err := svc.Authenticate(t.Context(), key); err != nil || got != ten.ID {
		t.Fatalf("Authenticate(key) = %q, %v", got, err)
	}
	other, otherKey, _ := svc.Create(t.Context(), "Other", idempotency.Request{})
	// A well-formed key whose secret belongs to another tenant.
	swapped := "caas_sk_" + ten.ID + otherKey[len("caas_sk_")+len(other.ID):]
	bad := []string{"", "x", key + "x", key[:len(key)-1], strings.Replace(key, "caas_sk_", "caas_pk_", 1), swapped,
		"caas_sk_" + ids.Random{}.New(ids.Tenant) + key[len(key)-44:]}
	for _, k := range bad {
		if _, err := svc.Authenticate(t.Context(), k); !errors.Is(err, ErrInvalidAPIKey) {
			t.Errorf("Authenticate(%q) err = %v, want ErrInvalidAPIKey", k, err)
		}
	}
}

func TestCheckAdminKey(t *testing.T) {
	cases := []struct {
		configured, presented string
		ok                    bool
	}{
		{"k", "k", true},
		{"k", "K", false},
		{"k", "", false},
		{"", "", false},
		{"key", "key ", false},
	}
	for _, c := range cases {
		if err := CheckAdminKey(c.configured, c.presented); (err == nil) != c.ok {
			t.Errorf("CheckAdminKey(%q, %q) = %v", c.configured, c.presented, err)
		}
	}
}

func TestCreateHandler(t *testing.T) {
	h := edge.HTTP(slog.New(slog.DiscardHandler), CreateHandler("admin-key", newService()))
	cases := []struct {
		key, body string
		status    int
		code      string
	}{
		{"admin-key", `{"name":"Acme"}`, 201, ""},
		{"wrong", `{"name":"Acme"}`, 401, "invalid_admin_key"},
		{"", `{"name":"Acme"}`, 401, "invalid_admin_key"},
		{"admin-key", `{}`, 400, "missing_field"},
		{"admin-key", `{"name":""}`, 400, "invalid_name"},
		{"admin-key", `{"name":"a\u0000b"}`, 400, "invalid_name"},
		{"admin-key", `{"name":"Acme","x":1}`, 400, "unknown_field"},
		{"admin-key", `{"name":`, 400, "malformed_json"},
	}
	for _, c := range cases {
		ev := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"x-admin-key": c.key}, Body: c.body}
		resp, _ := h(t.Context(), ev)
		var body map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &body)
		if resp.StatusCode != c.status || (c.code != "" && body["code"] != c.code) {
			t.Errorf("key %q body %s: %d %v", c.key, c.body, resp.StatusCode, body)
		}
		if c.status == 201 && (body["api_key"] == nil || body["id"] == nil || body["name"] != "Acme" || resp.Headers["Cache-Control"] != "no-store") {
			t.Errorf("created: %v %v", body, resp.Headers)
		}
	}
}

func TestCreateHandlerIdempotencyKey(t *testing.T) {
	h := edge.HTTP(slog.New(slog.DiscardHandler), CreateHandler("admin-key", newService()))
	post := func(key *string, body string) (int, map[string]any) {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"x-admin-key": "admin-key"}, Body: body, RawPath: "/v1/tenants"}
		ev.RequestContext.HTTP.Method = "POST"
		if key != nil {
			ev.Headers["idempotency-key"] = *key
		}
		resp, _ := h(t.Context(), ev)
		var out map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &out)
		return resp.StatusCode, out
	}
	ptr := func(s string) *string { return &s }

	for _, bad := range []string{"", strings.Repeat("k", 256), "caf\u00e9", "tab\there", "nul\x00", "del\x7f"} {
		if status, body := post(&bad, `{"name":"Acme"}`); status != 400 || body["code"] != "invalid_idempotency_key" {
			t.Errorf("key %q: %d %v, want 400 invalid_idempotency_key", bad, status, body["code"])
		}
	}
	status, first := post(ptr(strings.Repeat("k", 255)), `{"name":"Acme"}`)
	if status != 201 || first["api_key"] == nil {
		t.Fatalf("255-character key: %d %v", status, first)
	}
	status, first = post(ptr("order 42 / retry-safe ~!"), `{"name":"Acme"}`)
	if status != 201 || first["api_key"] == nil {
		t.Fatalf("first create: %d %v", status, first)
	}
	// The same request spelled differently is the same request.
	status, again := post(ptr("order 42 / retry-safe ~!"), `{ "name" : "Acme" }`)
	detail, _ := again["detail"].(string)
	if status != 409 || again["code"] != "idempotent_replay_secret" || again["api_key"] != nil || !strings.Contains(detail, first["id"].(string)) {
		t.Errorf("repeat: %d %v, want 409 idempotent_replay_secret naming %v", status, again, first["id"])
	}
	if status, body := post(ptr("order 42 / retry-safe ~!"), `{"name":"Other"}`); status != 409 || body["code"] != "idempotency_conflict" {
		t.Errorf("same key, other body: %d %v, want 409 idempotency_conflict", status, body["code"])
	}
	if status, _ := post(nil, `{"name":"Acme"}`); status != 201 {
		t.Errorf("no key: %d, want 201", status)
	}
}
