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
		if d.Category != "messages" && by[d.Category] != d.Period {
			t.Fatalf("%s: %q, want the default %q", d.Category, by[d.Category], d.Period)
		}
	}
	if len(RetentionStatements(retention.Periods{})) != len(gdpr.DefaultRetention) {
		t.Fatal("no policy should give the defaults")
	}
}
