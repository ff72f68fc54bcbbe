package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// apiKeyContext is the context of a request made with the tenant's API key.
func apiKeyContext(t *testing.T, tenant string) context.Context {
	return edge.WithCaller(t.Context(), edge.Identity{TenantID: tenant, Actor: edge.ActorAPIKey, Role: identity.RoleAdmin})
}

// appendEvents calls POST /v1/audit/events with events and returns the stored records, newest
// first, or the error.
func appendEvents(t *testing.T, w *world, tenant string, events ...map[string]any) ([]audit.Record, error) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		t.Fatal(err)
	}
	req := &edge.Request{}
	req.Body = string(b)
	h := audit.NewHandlers(w.svc)
	if _, err := h.Append(apiKeyContext(t, tenant), req); err != nil {
		return nil, err
	}
	recs, _, err := w.svc.Query(t.Context(), tenant, audit.Filter{}, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return recs, nil
}

func event(id string, extra map[string]any) map[string]any {
	e := map[string]any{"id": id, "action": "EXPORT invoices", "resource": "inv_1", "outcome": "success", "status": 200}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

func TestForgottenUserNeverGetsTheOldPseudonym(t *testing.T) {
	w := newWorld(t, 1000)
	ctx := t.Context()
	tenant, user := newTenant(), ids.Random{}.New(ids.User)
	old, err := w.svc.Pseudonym(ctx, tenant, user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ForgetUser(ctx, tenant, user); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{old: true}
	for i := 0; i < 2; i++ {
		p, err := w.svc.Pseudonym(ctx, tenant, user)
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] || !strings.HasPrefix(p, audit.PseudonymPrefix) || len(p) != len(old) {
			t.Errorf("pseudonym after erasure %q (old %q)", p, old)
		}
		seen[p] = true
		if _, err := w.svc.ResolvePseudonym(ctx, tenant, p); !errors.Is(err, audit.ErrNotFound) {
			t.Errorf("a link to the forgotten user was stored for %s: %v", p, err)
		}
	}

	// Through the API, as actor and as a path segment of the resource.
	recs, err := appendEvents(t, w, tenant, event("after-1", map[string]any{
		"actor": map[string]string{"type": "user", "id": user}, "resource": "users/" + user + "/invoices"}))
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if r.Actor.ID == old || strings.Contains(r.Resource, old) || strings.Contains(r.Resource, user) || !strings.HasPrefix(r.Resource, "users/psn_") {
		t.Errorf("record after erasure: actor %s resource %s (old pseudonym %s)", r.Actor.ID, r.Resource, old)
	}
	n, err := w.raw.Collection("audit_pseudonyms").CountDocuments(ctx, map[string]any{"tenant_id": tenant, "user_id": user})
	if err != nil || n != 0 {
		t.Errorf("links to the forgotten user: %d (%v)", n, err)
	}

	// Another user keeps a stable, resolvable pseudonym.
	other := ids.Random{}.New(ids.User)
	p1, _ := w.svc.Pseudonym(ctx, tenant, other)
	p2, _ := w.svc.Pseudonym(ctx, tenant, other)
	if got, err := w.svc.ResolvePseudonym(ctx, tenant, p1); p1 != p2 || got != other || err != nil {
		t.Errorf("pseudonym of a user not forgotten: %s %s -> %s %v", p1, p2, got, err)
	}
}

func TestAppendedEventsAreMarkedAndChecked(t *testing.T) {
	w := newWorld(t, 1000)
	tenant := newTenant()
	user := ids.Random{}.New(ids.User)
	now := w.clk.Now()

	recs, err := appendEvents(t, w, tenant,
		event("a-1", map[string]any{"details": map[string]string{"format": "csv"}}),
		event("a-2", map[string]any{"actor": map[string]string{"type": "user", "id": user},
			"resource": "users/" + user, "time": now.Add(4 * time.Minute).Format(time.RFC3339)}),
		event("a-3", map[string]any{"actor": map[string]string{"type": "api_key"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Details[audit.SourceDetail] != audit.SourceAPI {
			t.Errorf("record %s details %v: no source=api", r.ID, r.Details)
		}
	}
	a1, a2, a3 := recs[2], recs[1], recs[0]
	if a1.Actor != (audit.Actor{Type: audit.ActorAPIKey, ID: audit.APIKeyActorID}) || a1.Details["format"] != "csv" {
		t.Errorf("a-1: %+v", a1)
	}
	if a3.Actor != (audit.Actor{Type: audit.ActorAPIKey, ID: audit.APIKeyActorID}) {
		t.Errorf("a-3: %+v", a3.Actor)
	}
	p, _ := w.svc.Pseudonym(t.Context(), tenant, user)
	if a2.Actor.ID != p || a2.Resource != "users/"+p {
		t.Errorf("a-2: actor %s resource %s, want %s", a2.Actor.ID, a2.Resource, p)
	}

	for _, c := range []struct {
		name  string
		extra map[string]any
		code  string
	}{
		{"system actor", map[string]any{"actor": map[string]string{"type": "system", "id": "retention"}}, "reserved_actor"},
		{"anonymous actor", map[string]any{"actor": map[string]string{"type": "anonymous", "id": "anonymous"}}, "reserved_actor"},
		{"other api key id", map[string]any{"actor": map[string]string{"type": "api_key", "id": "tenant_api_key"}}, "invalid_audit_record"},
		{"pseudonym as user id", map[string]any{"actor": map[string]string{"type": "user", "id": p}}, "pseudonym_actor"},
		{"source detail", map[string]any{"details": map[string]string{"source": "platform"}}, "reserved_detail"},
		{"future time", map[string]any{"time": now.Add(6 * time.Minute).Format(time.RFC3339)}, "time_in_future"},
		{"2099", map[string]any{"time": "2099-01-01T00:00:00Z"}, "time_in_future"},
	} {
		_, err := appendEvents(t, w, tenant, event("bad-1", c.extra))
		if fe := fault.As(err); fe == nil || fe.Code != c.code {
			t.Errorf("%s: error %v, want code %s", c.name, err, c.code)
		}
	}
}

func TestVerifyShowsTheLatestCheckpoint(t *testing.T) {
	w := newWorld(t, 5)
	tenant := newTenant()
	h := audit.NewHandlers(w.svc)
	verify := func() map[string]any {
		t.Helper()
		res, err := h.Verify(apiKeyContext(t, tenant), &edge.Request{})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(res.Body), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := verify(); out["latest_checkpoint"] != nil {
		t.Errorf("empty chain: %v", out["latest_checkpoint"])
	}
	mustAppend(t, w.svc, tenant, inputs("c", 3, w.clk.Now()))
	mustAppend(t, w.svc, tenant, inputs("d", 6, w.clk.Now()))
	out := verify()
	c, ok := out["latest_checkpoint"].(map[string]any)
	if !ok {
		t.Fatalf("no latest_checkpoint: %v", out)
	}
	want, err := w.svc.LatestCheckpoint(t.Context(), tenant, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if c["seq"] != float64(want.Seq) || c["hash"] != want.Hash || c["signature"] != want.Signature || c["key_id"] != out["key_id"] || c["time"] == "" {
		t.Errorf("latest_checkpoint %v, want %+v", c, want)
	}
}
