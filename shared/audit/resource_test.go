package audit_test

import (
	"strings"
	"testing"

	"caas.dev/shared/audit"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

func TestAppendRefusesAResourceThatOutgrowsTheLimitWithPseudonyms(t *testing.T) {
	w := newWorld(t, 1000)
	tenant := newTenant()

	// Within the limit as sent, over it once every user id is a 68-byte pseudonym.
	var segs []string
	for len(strings.Join(segs, "/"))+len("usr_")+40 <= audit.MaxResourceLength {
		segs = append(segs, ids.Random{}.New(ids.User))
	}
	long := strings.Join(segs, "/")
	if len(long) > audit.MaxResourceLength {
		long = long[:strings.LastIndexByte(long[:audit.MaxResourceLength], '/')]
	}
	n := strings.Count(long, "/") + 1
	if len(long)+n*(len(audit.PseudonymPrefix)+64-len(segs[0])) <= audit.MaxResourceLength {
		t.Fatalf("resource of %d bytes would still fit with pseudonyms", len(long))
	}
	_, err := appendEvents(t, w, tenant, event("long-1", map[string]any{"resource": long}))
	if fe := fault.As(err); fe == nil || fe.Code != "invalid_audit_record" || !strings.Contains(fe.Detail, "pseudonyms") {
		t.Fatalf("append of a resource that outgrows the limit: %v; want invalid_audit_record about pseudonyms", err)
	}

	// One that still fits is stored whole: every segment, each user id as its pseudonym.
	short := "users/" + segs[0] + "/invoices/" + segs[1] + "/lines"
	recs, err := appendEvents(t, w, tenant, event("short-1", map[string]any{"resource": short}))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(recs[0].Resource, "/")
	if len(got) != 5 || got[0] != "users" || got[2] != "invoices" || got[4] != "lines" ||
		!strings.HasPrefix(got[1], audit.PseudonymPrefix) || !strings.HasPrefix(got[3], audit.PseudonymPrefix) {
		t.Errorf("stored resource %q for %q", recs[0].Resource, short)
	}
}
