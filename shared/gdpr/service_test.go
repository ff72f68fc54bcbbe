package gdpr_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
)

// changeLog keeps the changes it is handed, as the audit trail will.
type changeLog struct{ changes []gdpr.Change }

func (l *changeLog) RecordChange(_ context.Context, c gdpr.Change) error {
	l.changes = append(l.changes, c)
	return nil
}

type fixture struct {
	svc                *gdpr.Service
	clk                *clock.Fixed
	changes            *changeLog
	ann, bob, admin    edge.Identity
	apiKey, otherAdmin edge.Identity
	carl               string // a user of another tenant
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), "g"+hex.EncodeToString(b)+"_")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Drop(ctx)
		_ = c.Close(ctx)
	})
	f := &fixture{clk: clock.NewFixed(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)), changes: &changeLog{}}
	f.svc = &gdpr.Service{Consents: mongo.NewConsentStore(c), Users: c.Users(), Profiles: c.Users(),
		Changes: f.changes, Keys: mongo.NewIdempotencyKeys(c), Clock: f.clk, IDs: ids.Random{}}
	mk := func(tenantID, name, role string) edge.Identity {
		u := identity.User{ID: ids.Random{}.New(ids.User), TenantID: tenantID, Email: name + "@example.com",
			DisplayName: name, PasswordHash: "x", Role: role, CreatedAt: f.clk.Now()}
		if err := c.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return edge.Identity{TenantID: tenantID, UserID: u.ID, Role: role, Actor: edge.ActorUser}
	}
	f.ann = mk("ten_a", "ann", identity.RoleUser)
	f.bob = mk("ten_a", "bob", identity.RoleUser)
	f.admin = mk("ten_a", "ada", identity.RoleAdmin)
	f.carl = mk("ten_b", "carl", identity.RoleUser).UserID
	f.apiKey = edge.Identity{TenantID: "ten_a", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	f.otherAdmin = edge.Identity{TenantID: "ten_b", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	return f
}

func ptr[T any](v T) *T { return &v }

func codeOf(err error) string {
	if fe := fault.As(err); fe != nil {
		return fe.Code
	}
	return ""
}

func TestConsentHistory(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	record := func(caller edge.Identity, in gdpr.NewConsent) gdpr.Consent {
		t.Helper()
		c, created, err := f.svc.RecordConsent(ctx, caller, in, idempotency.Request{})
		if err != nil || !created {
			t.Fatalf("record %+v: %v (created %v)", in, err, created)
		}
		f.clk.Advance(time.Second)
		return c
	}
	g := record(f.ann, gdpr.NewConsent{Purpose: "marketing", PolicyVersion: "1", Granted: ptr(true), Source: "web"})
	if g.UserID != f.ann.UserID || g.RecordedBy != f.ann.UserID || !g.Granted || g.Source != "web" || !ids.Valid(ids.Consent, g.ID) {
		t.Errorf("granted record = %+v", g)
	}
	record(f.apiKey, gdpr.NewConsent{UserID: f.ann.UserID, Purpose: "analytics", PolicyVersion: "1", Granted: ptr(true)})
	w := record(f.ann, gdpr.NewConsent{Purpose: "marketing", PolicyVersion: "2", Granted: ptr(false)})

	h, err := f.svc.ListConsents(ctx, f.ann, "", "", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Items) != 2 || h.Items[0].ID != w.ID || h.NextCursor == "" {
		t.Fatalf("first page = %+v", h)
	}
	if m := h.Current["marketing"]; m.Granted || m.PolicyVersion != "2" || len(h.Current) != 2 {
		t.Errorf("current = %+v; want marketing withdrawn under version 2 and analytics", h.Current)
	}
	if a := h.Current["analytics"]; !a.Granted || a.RecordedBy != "api_key" || a.Source != "api" {
		t.Errorf("analytics = %+v; want granted by the API key, source api", a)
	}
	next, err := f.svc.ListConsents(ctx, f.ann, "", "", h.NextCursor, 2)
	if err != nil || len(next.Items) != 1 || next.Items[0].ID != g.ID || next.NextCursor != "" {
		t.Fatalf("second page = %+v, %v", next, err)
	}
	byAdmin, err := f.svc.ListConsents(ctx, f.admin, f.ann.UserID, "marketing", "", 10)
	if err != nil || len(byAdmin.Items) != 2 || len(byAdmin.Current) != 1 {
		t.Fatalf("admin's marketing list = %+v, %v", byAdmin, err)
	}
	if _, err := f.svc.ListConsents(ctx, f.ann, "", "", "bm90IGEgY3Vyc29y", 2); !errors.Is(err, gdpr.ErrInvalidCursor) {
		t.Errorf("forged cursor: %v", err)
	}
}

func TestConsentAccess(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	in := func(userID string) gdpr.NewConsent {
		return gdpr.NewConsent{UserID: userID, Purpose: "marketing", PolicyVersion: "1", Granted: ptr(true)}
	}
	cases := []struct {
		name   string
		caller edge.Identity
		in     gdpr.NewConsent
		code   string
	}{
		{"a user for another", f.ann, in(f.bob.UserID), "admin_required"},
		{"an admin token without the stored role", edge.Identity{TenantID: "ten_a", UserID: f.bob.UserID, Role: identity.RoleAdmin, Actor: edge.ActorUser}, in(f.ann.UserID), "admin_required"},
		{"another tenant's key", f.otherAdmin, in(f.ann.UserID), "user_not_found"},
		{"the key for another tenant's user", f.apiKey, in(f.carl), "user_not_found"},
		{"the key without a user", f.apiKey, in(""), "missing_field"},
		{"a malformed user id", f.apiKey, in("usr_x"), "user_not_found"},
		{"bad purpose", f.ann, gdpr.NewConsent{Purpose: "Marketing", PolicyVersion: "1", Granted: ptr(true)}, "invalid_purpose"},
		{"bad version", f.ann, gdpr.NewConsent{Purpose: "m", PolicyVersion: "1 0", Granted: ptr(true)}, "invalid_policy_version"},
		{"no granted", f.ann, gdpr.NewConsent{Purpose: "m", PolicyVersion: "1"}, "missing_field"},
		{"bad source", f.ann, gdpr.NewConsent{Purpose: "m", PolicyVersion: "1", Granted: ptr(true), Source: "fax"}, "invalid_source"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := f.svc.RecordConsent(ctx, tc.caller, tc.in, idempotency.Request{}); codeOf(err) != tc.code {
				t.Errorf("err = %v, want code %s", err, tc.code)
			}
		})
	}
	if _, _, err := f.svc.RecordConsent(ctx, f.admin, in(f.bob.UserID), idempotency.Request{}); err != nil {
		t.Errorf("an admin user for another: %v", err)
	}
	if _, err := f.svc.ListConsents(ctx, f.bob, f.ann.UserID, "", "", 10); codeOf(err) != "admin_required" {
		t.Errorf("a user reading another's: %v", err)
	}
}

func TestConsentIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	in := gdpr.NewConsent{Purpose: "marketing", PolicyVersion: "1", Granted: ptr(false)}
	r := idempotency.Request{Key: "k-1", RequestSHA256: "aa"}
	first, created, err := f.svc.RecordConsent(ctx, f.ann, in, r)
	if err != nil || !created {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	again, created, err := f.svc.RecordConsent(ctx, f.ann, in, r)
	if err != nil || created || again != first {
		t.Fatalf("retry = %+v, %v, %v; want the first record, not created", again, created, err)
	}
	// Another caller's key of the same name is another key.
	if _, created, err := f.svc.RecordConsent(ctx, f.bob, in, r); err != nil || !created {
		t.Errorf("bob's k-1: %v, created %v", err, created)
	}
	if _, _, err := f.svc.RecordConsent(ctx, f.ann, in, idempotency.Request{Key: "k-1", RequestSHA256: "bb"}); !errors.Is(err, idempotency.ErrConflict) {
		t.Errorf("other request with the key: %v", err)
	}
	h, err := f.svc.ListConsents(ctx, f.ann, "", "", "", 10)
	if err != nil || len(h.Items) != 1 {
		t.Fatalf("ann has %d records (%v), want 1", len(h.Items), err)
	}
}

func TestRectify(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	u, err := f.svc.Rectify(ctx, f.ann, f.ann.UserID, gdpr.ProfileUpdate{DisplayName: ptr("  Ann Lee "), Email: ptr("Ann.Lee@Example.com")})
	if err != nil || u.DisplayName != "Ann Lee" || u.Email != "ann.lee@example.com" {
		t.Fatalf("rectify = %+v, %v", u, err)
	}
	want := []gdpr.FieldChange{{Field: "display_name", Old: "ann", New: "Ann Lee"}, {Field: "email", Old: "ann@example.com", New: "ann.lee@example.com"}}
	if len(f.changes.changes) != 1 || !slices.Equal(f.changes.changes[0].Fields, want) || f.changes.changes[0].Actor != f.ann.UserID {
		t.Fatalf("changes = %+v, want %+v", f.changes.changes, want)
	}
	// The same values again change nothing and record nothing.
	if _, err := f.svc.Rectify(ctx, f.apiKey, f.ann.UserID, gdpr.ProfileUpdate{DisplayName: ptr("Ann Lee")}); err != nil || len(f.changes.changes) != 1 {
		t.Errorf("no-op rectify: %v, %d changes", err, len(f.changes.changes))
	}
	cases := []struct {
		name   string
		caller edge.Identity
		userID string
		in     gdpr.ProfileUpdate
		code   string
	}{
		{"taken email", f.admin, f.ann.UserID, gdpr.ProfileUpdate{Email: ptr("BOB@example.com")}, "email_taken"},
		{"another user", f.bob, f.ann.UserID, gdpr.ProfileUpdate{DisplayName: ptr("x")}, "admin_required"},
		{"another tenant", f.otherAdmin, f.ann.UserID, gdpr.ProfileUpdate{DisplayName: ptr("x")}, "user_not_found"},
		{"nothing", f.ann, f.ann.UserID, gdpr.ProfileUpdate{}, "missing_field"},
		{"bad email", f.ann, f.ann.UserID, gdpr.ProfileUpdate{Email: ptr("nope")}, "invalid_email"},
		{"bad name", f.ann, f.ann.UserID, gdpr.ProfileUpdate{DisplayName: ptr("a\u202eb")}, "invalid_display_name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.svc.Rectify(ctx, tc.caller, tc.userID, tc.in); codeOf(err) != tc.code {
				t.Errorf("err = %v, want code %s", err, tc.code)
			}
		})
	}
	if len(f.changes.changes) != 1 {
		t.Errorf("refused changes were recorded: %+v", f.changes.changes)
	}
}
