package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Calendar facts the cases below rely on: 2026-03-01 is a Sunday (so 2026-03-02 is the first
// Monday of March and 2026-03-31 a Tuesday), 2026-02-28 a Saturday, 2026-04-01 a Wednesday,
// 2026-05-31 a Sunday, 2026-08-01 a Saturday. New York moves to EDT on 2026-03-08 at 02:00 and
// back to EST on 2026-11-01 at 02:00.

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestRate(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"rate(1 minute)", time.Minute},
		{"rate(5 minutes)", 5 * time.Minute},
		{"rate(1 hour)", time.Hour},
		{"rate(12 hours)", 12 * time.Hour},
		{"rate(1 day)", 24 * time.Hour},
		{"rate(2 days)", 48 * time.Hour},
	}
	start := utc("2026-03-04T10:07:12Z")
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := Parse(tt.expr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Next(start); !got.Equal(start.Add(tt.want)) {
				t.Errorf("Next(%v) = %v, want one period (%v) later", start, got, tt.want)
			}
			if e.String() != tt.expr {
				t.Errorf("String() = %q", e.String())
			}
		})
	}
}

func TestCronNext(t *testing.T) {
	tests := []struct {
		expr, after, want string
	}{
		// The examples of the EventBridge cron expression reference.
		{"cron(0 10 * * ? *)", "2026-03-04T09:59:59Z", "2026-03-04T10:00:00Z"},
		{"cron(0 10 * * ? *)", "2026-03-04T10:00:00Z", "2026-03-05T10:00:00Z"},
		{"cron(15 12 * * ? *)", "2026-03-04T12:15:30Z", "2026-03-05T12:15:00Z"},
		{"cron(15 12 * * ? *)", "2026-12-31T13:00:00Z", "2027-01-01T12:15:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2026-03-04T18:30:00Z", "2026-03-05T18:00:00Z"},
		{"cron(0 18 ? * MON-FRI *)", "2026-03-06T18:00:00Z", "2026-03-09T18:00:00Z"},
		{"cron(0 8 1 * ? *)", "2026-03-01T08:00:00Z", "2026-04-01T08:00:00Z"},
		{"cron(0 8 1 * ? *)", "2026-12-15T00:00:00Z", "2027-01-01T08:00:00Z"},
		{"cron(0/15 * * * ? *)", "2026-03-04T10:07:12Z", "2026-03-04T10:15:00Z"},
		{"cron(0/15 * * * ? *)", "2026-03-04T10:45:00Z", "2026-03-04T11:00:00Z"},
		{"cron(0/10 * ? * MON-FRI *)", "2026-03-04T10:00:00Z", "2026-03-04T10:10:00Z"},
		{"cron(0/10 * ? * MON-FRI *)", "2026-03-06T23:55:00Z", "2026-03-09T00:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-03-09T07:59:00Z", "2026-03-09T08:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-03-09T12:01:00Z", "2026-03-09T12:05:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-03-09T17:55:00Z", "2026-03-10T08:00:00Z"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "2026-03-06T17:55:00Z", "2026-03-09T08:00:00Z"},
		{"cron(0 9 ? * 2#1 *)", "2026-02-15T00:00:00Z", "2026-03-02T09:00:00Z"},
		{"cron(0 9 ? * 2#1 *)", "2026-03-02T09:00:00Z", "2026-04-06T09:00:00Z"},
		// The reference's example of /: 1/10 is minutes 1, 11, 21...
		{"cron(1/10 * * * ? *)", "2026-03-04T10:01:00Z", "2026-03-04T10:11:00Z"},
		{"cron(1/10 * * * ? *)", "2026-03-04T10:51:00Z", "2026-03-04T11:01:00Z"},
		// L in Day-of-month: the last day, leap years included.
		{"cron(0 0 L * ? *)", "2026-02-10T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"},
		{"cron(0 0 L * ? *)", "2028-02-10T00:00:00Z", "2028-02-29T00:00:00Z"},
		// LW: the last weekday. February 2026 ends on a Saturday, May 2026 on a Sunday.
		{"cron(0 12 LW * ? *)", "2026-02-01T00:00:00Z", "2026-02-27T12:00:00Z"},
		{"cron(0 12 LW * ? *)", "2026-05-01T00:00:00Z", "2026-05-29T12:00:00Z"},
		{"cron(0 12 LW * ? *)", "2026-03-01T00:00:00Z", "2026-03-31T12:00:00Z"},
		// nW: the weekday nearest day n, never leaving the month.
		{"cron(0 9 15W * ? *)", "2026-03-01T00:00:00Z", "2026-03-16T09:00:00Z"},
		{"cron(0 9 3W * ? *)", "2026-03-01T00:00:00Z", "2026-03-03T09:00:00Z"},
		{"cron(0 9 1W * ? *)", "2026-07-31T00:00:00Z", "2026-08-03T09:00:00Z"},
		{"cron(0 9 31W * ? *)", "2026-05-01T00:00:00Z", "2026-05-29T09:00:00Z"},
		{"cron(0 9 8W * ? *)", "2026-08-01T00:00:00Z", "2026-08-07T09:00:00Z"},
		// L in Day-of-week: alone it is Saturday, after a day the last such day of the month.
		{"cron(0 10 ? * L *)", "2026-03-04T00:00:00Z", "2026-03-07T10:00:00Z"},
		{"cron(0 10 ? * 6L *)", "2026-03-01T00:00:00Z", "2026-03-27T10:00:00Z"},
		{"cron(0 10 ? * FRIL *)", "2026-03-27T10:00:00Z", "2026-04-24T10:00:00Z"},
		// Names, lists, years.
		{"cron(0 0 1 JAN,JUL ? *)", "2026-03-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		{"cron(0 0 ? * sun *)", "2026-03-02T00:00:00Z", "2026-03-08T00:00:00Z"},
		{"cron(0 0 ? * 1,7 *)", "2026-03-02T00:00:00Z", "2026-03-07T00:00:00Z"},
		{"cron(0 0 1 1 ? 2027)", "2026-03-04T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"cron(0 0 1 1 ? 2026/2)", "2026-03-04T00:00:00Z", "2028-01-01T00:00:00Z"},
		{"cron(0 0 29 FEB ? *)", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		// Times that never come.
		{"cron(0 0 1 1 ? 2027)", "2027-01-01T00:00:00Z", ""},
		{"cron(0 0 30 FEB ? *)", "2026-01-01T00:00:00Z", ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" after "+tt.after, func(t *testing.T) {
			e, err := Parse(tt.expr, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := e.Next(utc(tt.after))
			if tt.want == "" {
				if !got.IsZero() {
					t.Errorf("Next = %v, want none", got)
				}
				return
			}
			if !got.Equal(utc(tt.want)) {
				t.Errorf("Next = %v, want %v", got.UTC(), tt.want)
			}
		})
	}
}

func TestCronTimezone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	tests := []struct {
		expr, after, want string
	}{
		{"cron(0 9 * * ? *)", "2026-03-04T00:00:00Z", "2026-03-04T14:00:00Z"}, // EST
		{"cron(0 9 * * ? *)", "2026-03-09T00:00:00Z", "2026-03-09T13:00:00Z"}, // EDT
		// 02:30 does not exist on 2026-03-08: that day does not fire.
		{"cron(30 2 * * ? *)", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" after "+tt.after, func(t *testing.T) {
			e, err := Parse(tt.expr, ny)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Next(utc(tt.after)); !got.Equal(utc(tt.want)) {
				t.Errorf("Next = %v, want %v", got.UTC(), tt.want)
			}
		})
	}

	// 01:30 happens twice on 2026-11-01; the schedule fires once that day.
	e, err := Parse("cron(30 1 * * ? *)", ny)
	if err != nil {
		t.Fatal(err)
	}
	first := e.Next(utc("2026-10-31T12:00:00Z"))
	if !first.Equal(utc("2026-11-01T05:30:00Z")) && !first.Equal(utc("2026-11-01T06:30:00Z")) {
		t.Fatalf("Next = %v, want 01:30 on 2026-11-01 New York time", first.UTC())
	}
	if second := e.Next(first); !second.Equal(utc("2026-11-02T06:30:00Z")) {
		t.Errorf("after %v: Next = %v, want 2026-11-02T06:30:00Z", first.UTC(), second.UTC())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ expr, mention string }{
		{"rate(1 minutes)", "singular unit minute"},
		{"rate(1 hours)", "singular unit hour"},
		{"rate(1 days)", "singular unit day"},
		{"rate(5 minute)", "plural unit minutes"},
		{"rate(2 day)", "plural unit days"},
		{"rate(0 minutes)", "positive whole number"},
		{"rate(-1 minutes)", "positive whole number"},
		{"rate(1.5 hours)", "positive whole number"},
		{"rate(1 week)", "unit"},
		{"rate(minutes)", "rate(value unit)"},
		{"rate(5 minutes", "parenthesis"},
		{"every 5 minutes", "rate(value unit) or cron(fields)"},
		{"", "rate(value unit) or cron(fields)"},
		{"cron(0 10 * * ?)", "6 fields"},
		{"cron(0 10 * * ? * *)", "6 fields"},
		{"cron(* * * * * *)", "exactly one of Day-of-month and Day-of-week"},
		{"cron(0 10 ? * ? *)", "exactly one of Day-of-month and Day-of-week"},
		{"cron(60 * * * ? *)", "Minutes"},
		{"cron(? * * * ? *)", "Minutes"},
		{"cron(0 24 * * ? *)", "Hours"},
		{"cron(0 0 0 * ? *)", "Day-of-month"},
		{"cron(0 0 32 * ? *)", "Day-of-month"},
		{"cron(0 0 1-5W * ? *)", "Day-of-month"},
		{"cron(0 0 * 13 ? *)", "Month"},
		{"cron(0 0 * FOO ? *)", "Month"},
		{"cron(0 0 ? * 0 *)", "Day-of-week"},
		{"cron(0 0 ? * 8 *)", "Day-of-week"},
		{"cron(0 0 ? * 3#1,6#3 *)", "Day-of-week"},
		{"cron(0 0 ? * 2#6 *)", "Day-of-week"},
		{"cron(0 0 ? * 1-3L *)", "Day-of-week"},
		{"cron(0 0 * * ? 1969)", "Year"},
		{"cron(0 0 * * ? 2200)", "Year"},
		{"cron(0/0 * * * ? *)", "step"},
		{"cron(5-1 * * * ? *)", "backwards"},
		{"cron(1,,2 * * * ? *)", "Minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr, nil)
			if err == nil {
				t.Fatal("parsed, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.expr) || !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q, want it to name the expression and mention %q", msg, tt.mention)
			}
		})
	}
}
