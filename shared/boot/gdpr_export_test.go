package boot

import (
	"strings"
	"testing"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/retention"
)

// A policy's periods replace the default statements of their categories; the others stay.
func TestRetentionStatements(t *testing.T) {
	got := RetentionStatements(retention.Periods{MessagesDays: 30, MediaDays: 10})
	by := map[string]string{}
	for _, s := range got {
		by[s.Category] = s.Period
	}
	if !strings.Contains(by["messages"], "30 days") || !strings.Contains(by["media"], "10 days") {
		t.Fatalf("policy periods not stated: %v", by)
	}
	for _, d := range gdpr.DefaultRetention {
		if d.Category != "messages" && d.Category != "media" && by[d.Category] != d.Period {
			t.Fatalf("%s: %q, want the default %q", d.Category, by[d.Category], d.Period)
		}
	}
	if len(RetentionStatements(retention.Periods{})) != len(gdpr.DefaultRetention) {
		t.Fatal("no policy should give the defaults")
	}

	// Sessions go after they ended, or once unused for the period plus the refresh lifetime;
	// a period of one day is "1 day".
	by = map[string]string{}
	for _, s := range RetentionStatements(retention.Periods{SessionsDays: 1, ExportsDays: 1}) {
		by[s.Category] = s.Period
	}
	if s := by["sessions"]; !strings.Contains(s, "1 day after the session ended") || !strings.Contains(s, "unused for 31 days") {
		t.Errorf("sessions: %q", s)
	}
	for c, s := range by {
		if strings.Contains(" "+s, " 1 days") || strings.Contains(s, "after it was made") {
			t.Errorf("%s: %q", c, s)
		}
	}
	for _, d := range gdpr.DefaultRetention {
		if d.Category == "consents" && (strings.Contains(d.Period, "deleted on erasure") || !strings.Contains(d.Period, "after erasure")) {
			t.Errorf("consents: %q; erasure keeps them", d.Period)
		}
	}
}
