package gdpr_test

import (
	"errors"
	"strings"
	"testing"

	"caas.dev/shared/audit"
	"caas.dev/shared/clock"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo/mongotest"
)

// A rectification lands in the tenant's audit trail with its old and new values sealed under
// the subject's own key: readable until the user is erased, unreadable after, and the chain
// verifies throughout.
func TestRectificationInTheAuditTrail(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	c := mongotest.Open(t)
	ks := mongotest.Keys(t, c)
	trail, err := audit.New(audit.Config{Store: c.Audit(), Secrets: ks, Clock: clock.System{}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Changes = gdpr.AuditRecorder{Audit: trail, Keys: ks, IDs: ids.Random{}}

	newEmail := "ann.new@example.com"
	if _, err := f.svc.Rectify(ctx, f.admin, f.ann.UserID, gdpr.ProfileUpdate{Email: &newEmail}); err != nil {
		t.Fatal(err)
	}
	recs, _, err := trail.Query(ctx, "ten_a", audit.Filter{Action: gdpr.RectificationAction}, "", 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("rectification records: %d, %v", len(recs), err)
	}
	r := recs[0]
	if r.Details["fields"] != "email" || r.Actor.Type != audit.ActorUser || !strings.HasPrefix(r.Resource, "user:psn_") {
		t.Fatalf("record %+v", r.Input)
	}
	for _, s := range []string{f.ann.UserID, f.admin.UserID, "ann@example.com", newEmail} {
		if strings.Contains(r.Resource+r.Actor.ID+r.Details["old_email"]+r.Details["new_email"], s) {
			t.Fatalf("the record shows %q in the clear", s)
		}
	}
	for side, want := range map[string]string{"old": "ann@example.com", "new": newEmail} {
		got, err := gdpr.OpenRectifiedValue(ctx, ks, "ten_a", f.ann.UserID, r.ID, "email", side, r.Details[side+"_email"])
		if err != nil || got != want {
			t.Fatalf("%s value: %q, %v; want %q", side, got, err, want)
		}
	}

	// Erasure shreds the user's key: the values are gone, the chain is untouched.
	if err := ks.ShredUser(ctx, "ten_a", f.ann.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := gdpr.OpenRectifiedValue(ctx, ks, "ten_a", f.ann.UserID, r.ID, "email", "old", r.Details["old_email"]); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("old value after erasure: %v", err)
	}
	v, err := trail.Verify(ctx, "ten_a", 1, 0)
	if err != nil || !v.Valid {
		t.Fatalf("verify after erasure: %+v, %v", v, err)
	}
}
