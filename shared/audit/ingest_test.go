package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/ids"
	"caas.dev/shared/tenant"
)

func createTenant(t *testing.T, w *world) string {
	t.Helper()
	id := newTenant()
	if err := w.client.Tenants().CreateTenant(context.Background(), tenant.Tenant{ID: id, Name: "t " + id, APIKeyHash: "h" + id, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestIngestPseudonymisesDropsAndDedupes(t *testing.T) {
	w := newWorld(t, 1000)
	ctx := context.Background()
	tenantID := createTenant(t, w)
	unknown := newTenant()
	user := ids.Random{}.New(ids.User)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ev := func(tid string, actor audit.EventActor, resource string) audit.Event {
		return audit.Event{ID: ids.Random{}.New(ids.AuditRecord), TenantID: tid, Time: base, Actor: actor,
			Action: "GET /v1/users/{id}", Resource: resource, Outcome: audit.OutcomeSuccess, Status: 200,
			IP: "203.0.113.9", UserAgent: "test/1", LatencyMS: 3, RequestID: "req-1"}
	}
	events := []audit.Event{
		ev(tenantID, audit.EventActor{Type: audit.ActorUser, ID: user}, "/v1/users/"+user+"/consents"),
		ev(tenantID, audit.EventActor{Type: audit.ActorAPIKey, ID: "api_key"}, "/v1/conversations"),
		ev(tenantID, audit.EventActor{Type: audit.ActorAnonymous, ID: "anonymous"}, "/v1/auth/login"),
		ev(unknown, audit.EventActor{Type: audit.ActorAnonymous, ID: "anonymous"}, "/v1/auth/login"),
		ev("not-a-tenant", audit.EventActor{Type: audit.ActorAnonymous, ID: "anonymous"}, "/v1/auth/login"),
		ev(tenantID, audit.EventActor{Type: "robot", ID: "r"}, "/v1/x"),
	}
	res, err := w.svc.Ingest(ctx, w.client.Tenants(), events)
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 3 || res.UnknownTenant != 2 || res.Invalid != 1 || res.Skipped != 0 {
		t.Fatalf("result %+v; want 3 appended, 2 of unknown tenants, 1 invalid", res)
	}
	// Handed over again (a redelivered batch): every record is in the chain already.
	res, err = w.svc.Ingest(ctx, w.client.Tenants(), events)
	if err != nil {
		t.Fatal(err)
	}
	if res.Appended != 0 || res.Skipped != 3 {
		t.Fatalf("second ingest %+v; want 0 appended, 3 skipped", res)
	}

	recs, err := w.client.Audit().Records(ctx, tenantID, 1, 100, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records in the chain, want 3", len(recs))
	}
	p, err := w.svc.Pseudonym(ctx, tenantID, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if strings.Contains(r.Actor.ID+r.Resource, user) {
			t.Errorf("record %s holds the user id: actor %q resource %q", r.ID, r.Actor.ID, r.Resource)
		}
	}
	if recs[0].Actor != (audit.Actor{Type: audit.ActorUser, ID: p}) || recs[0].Resource != "/v1/users/"+p+"/consents" {
		t.Errorf("first record actor %+v resource %q; want the pseudonym %s in both", recs[0].Actor, recs[0].Resource, p)
	}
	if recs[2].Actor.Type != audit.ActorAnonymous {
		t.Errorf("third record actor %+v, want anonymous", recs[2].Actor)
	}
	v, err := w.svc.Verify(ctx, tenantID, 1, 0)
	if err != nil || !v.Valid {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	if n, err := w.client.Audit().Records(ctx, unknown, 1, 100, 100); err != nil || len(n) != 0 {
		t.Fatalf("unknown tenant has %d records (%v)", len(n), err)
	}
}

func TestCutPath(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"/v1/users/abc", 20, "/v1/users/abc"},
		{"/v1/users/abcdef", 12, "/v1/users"},
		{"abcdef", 3, ""},
	} {
		if got := audit.CutPath(c.in, c.max); got != c.want {
			t.Errorf("CutPath(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}
