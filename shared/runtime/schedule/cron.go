package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Year bounds of a cron expression, as EventBridge accepts them.
const (
	minYear = 1970
	maxYear = 2199
)

var (
	monthNames = map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}
	dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
)

// Cron is a cron(Minutes Hours Day-of-month Month Day-of-week Year) expression. Exactly one of
// Day-of-month and Day-of-week is ?. Days of the week run from 1 (SUN) to 7 (SAT).
//
// BUG: ranges must run upwards (FRI-MON is refused), and nW fires in no month shorter than n
// days.
type Cron struct {
	expr string
	loc  *time.Location

	minutes, hours, months, years set
	dom                           dayOfMonth // used when dow.any
	dow                           dayOfWeek  // used when dom.any
}

// set holds the values a field allows, indexed by value.
type set []bool

func (s set) has(v int) bool { return v >= 0 && v < len(s) && s[v] }

// dayOfMonth is a Day-of-month field.
type dayOfMonth struct {
	any         bool // ?
	days        set
	last        bool // L: the last day of the month
	lastWeekday bool // LW: the last weekday (Monday to Friday) of the month
	nearest     int  // nW: the weekday nearest day n, within the month; 0 when unused
}

// dayOfWeek is a Day-of-week field.
type dayOfWeek struct {
	any        bool // ?
	days       set  // 1 (SUN) to 7 (SAT)
	lastOf     int  // nL: the last day n of the month; 0 when unused
	nth, nthOf int  // d#n: the nth day d of the month; 0 when unused
}

// Next returns the first minute strictly after after that the expression matches, read as
// wall-clock time in the expression's location. A wall-clock time that a daylight-saving change
// skips does not fire; one that it repeats fires once. The zero Time means no time up to the
// year 2199 matches.
func (c *Cron) Next(after time.Time) time.Time {
	a := after.In(c.loc)
	// w walks wall-clock minutes; it is kept in UTC so that its arithmetic knows no DST.
	w := time.Date(a.Year(), a.Month(), a.Day(), a.Hour(), a.Minute(), 0, 0, time.UTC).Add(time.Minute)
	for w.Year() <= maxYear {
		y, m, d := w.Date()
		switch {
		case !c.years.has(y):
			w = time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC)
		case !c.months.has(int(m)):
			w = time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(y, m, d):
			w = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
		case !c.hours.has(w.Hour()):
			w = time.Date(y, m, d, w.Hour()+1, 0, 0, 0, time.UTC)
		case !c.minutes.has(w.Minute()):
			w = w.Add(time.Minute)
		default:
			t := time.Date(y, m, d, w.Hour(), w.Minute(), 0, 0, c.loc)
			if t.After(after) && t.Hour() == w.Hour() && t.Minute() == w.Minute() {
				return t
			}
			w = w.Add(time.Minute)
		}
	}
	return time.Time{}
}

// String returns the expression as written.
func (c *Cron) String() string { return c.expr }

func (c *Cron) dayMatches(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	wd := weekday(y, m, d)
	if c.dow.any {
		f := c.dom
		return f.days.has(d) ||
			(f.last && d == last) ||
			(f.lastWeekday && d == lastWeekday(y, m)) ||
			(f.nearest > 0 && f.nearest <= last && d == nearestWeekday(y, m, f.nearest))
	}
	f := c.dow
	switch {
	case f.nth > 0:
		return wd == f.nthOf && (d-1)/7+1 == f.nth
	case f.lastOf > 0:
		return wd == f.lastOf && d+7 > last
	}
	return f.days.has(wd)
}

func daysIn(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// weekday returns the day of the week as cron numbers it: 1 (SUN) to 7 (SAT).
func weekday(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 1
}

func lastWeekday(y int, m time.Month) int {
	d := daysIn(y, m)
	switch weekday(y, m, d) {
	case 7:
		return d - 1
	case 1:
		return d - 2
	}
	return d
}

// nearestWeekday returns the weekday nearest day n without leaving the month: a Saturday moves
// to the Friday before (or the Monday after, on the 1st), a Sunday to the Monday after (or the
// Friday before, on the last day).
func nearestWeekday(y int, m time.Month, n int) int {
	switch weekday(y, m, n) {
	case 7:
		if n == 1 {
			return 3
		}
		return n - 1
	case 1:
		if n == daysIn(y, m) {
			return n - 2
		}
		return n + 1
	}
	return n
}

func parseCron(expr, inner string, loc *time.Location) (*Cron, error) {
	fields := strings.Fields(inner)
	if len(fields) != 6 {
		return nil, invalid(expr, "want 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), got %d", len(fields))
	}
	if loc == nil {
		loc = time.UTC
	}
	c := &Cron{expr: expr, loc: loc}
	var err error
	if c.minutes, err = parseList(fields[0], 0, 59, nil); err != nil {
		return nil, invalid(expr, "Minutes: %v", err)
	}
	if c.hours, err = parseList(fields[1], 0, 23, nil); err != nil {
		return nil, invalid(expr, "Hours: %v", err)
	}
	if c.dom, err = parseDayOfMonth(fields[2]); err != nil {
		return nil, invalid(expr, "Day-of-month: %v", err)
	}
	if c.months, err = parseList(fields[3], 1, 12, monthNames); err != nil {
		return nil, invalid(expr, "Month: %v", err)
	}
	if c.dow, err = parseDayOfWeek(fields[4]); err != nil {
		return nil, invalid(expr, "Day-of-week: %v", err)
	}
	if c.years, err = parseList(fields[5], minYear, maxYear, nil); err != nil {
		return nil, invalid(expr, "Year: %v", err)
	}
	if c.dom.any == c.dow.any {
		return nil, invalid(expr, "exactly one of Day-of-month and Day-of-week must be ?")
	}
	return c, nil
}

func parseDayOfMonth(s string) (dayOfMonth, error) {
	var f dayOfMonth
	switch {
	case s == "?":
		f.any = true
	case s == "L":
		f.last = true
	case s == "LW":
		f.lastWeekday = true
	case strings.HasSuffix(s, "W"):
		n, err := parseValue(strings.TrimSuffix(s, "W"), 1, 31, nil)
		if err != nil {
			return f, fmt.Errorf("%q: W follows a single day, as 15W", s)
		}
		f.nearest = n
	default:
		days, err := parseList(s, 1, 31, nil)
		if err != nil {
			return f, err
		}
		f.days = days
	}
	return f, nil
}

func parseDayOfWeek(s string) (dayOfWeek, error) {
	var f dayOfWeek
	switch {
	case s == "?":
		f.any = true
	case s == "L":
		f.days = make(set, 8)
		f.days[7] = true // the last day of the week: Saturday
	case strings.HasSuffix(s, "L"):
		d, err := parseValue(strings.TrimSuffix(s, "L"), 1, 7, dayNames)
		if err != nil {
			return f, fmt.Errorf("%q: L follows a single day, as 6L (the last Friday)", s)
		}
		f.lastOf = d
	case strings.Contains(s, "#"):
		day, nth, _ := strings.Cut(s, "#")
		d, err := parseValue(day, 1, 7, dayNames)
		if err != nil {
			return f, fmt.Errorf("%q: # takes a single day, as 2#1 (the first Monday)", s)
		}
		n, err := parseValue(nth, 1, 5, nil)
		if err != nil {
			return f, fmt.Errorf("%q: the week after # is 1 to 5", s)
		}
		f.nthOf, f.nth = d, n
	default:
		days, err := parseList(s, 1, 7, dayNames)
		if err != nil {
			return f, err
		}
		f.days = days
	}
	return f, nil
}

// parseList reads a comma-separated list of *, n, a-b, with an optional /step after each.
func parseList(s string, lo, hi int, names map[string]int) (set, error) {
	out := make(set, hi+1)
	for item := range strings.SplitSeq(s, ",") {
		base, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%q: the step after / must be a positive whole number", item)
			}
			step = n
		}
		from, to := lo, hi
		switch a, b, isRange := strings.Cut(base, "-"); {
		case base == "*":
		case isRange:
			var err error
			if from, err = parseValue(a, lo, hi, names); err != nil {
				return nil, err
			}
			if to, err = parseValue(b, lo, hi, names); err != nil {
				return nil, err
			}
			if from > to {
				return nil, fmt.Errorf("%q: the range runs backwards", item)
			}
		default:
			v, err := parseValue(base, lo, hi, names)
			if err != nil {
				return nil, err
			}
			from = v
			if !hasStep {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			out[v] = true
		}
	}
	return out, nil
}

func parseValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("%q is not a value from %d to %d", s, lo, hi)
	}
	return v, nil
}
