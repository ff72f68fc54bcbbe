// Package schedule reads the schedule expressions of EventBridge rules and EventBridge Scheduler
// schedules, rate(...) and cron(...), and tells when each fires next. It is pure: it neither
// sleeps nor reads the clock.
package schedule

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalid reports an expression EventBridge would refuse. Parse wraps it with the expression
// and what is wrong with it.
var ErrInvalid = errors.New("invalid schedule expression")

// Expression is a parsed schedule expression.
type Expression interface {
	// Next returns the first time strictly after after at which the schedule fires, or the zero
	// Time when it never fires again.
	Next(after time.Time) time.Time
	// String returns the expression as written.
	String() string
}

// Parse parses a rate(...) or cron(...) expression. Cron fields are read as wall-clock times in
// loc; a nil loc means UTC, as EventBridge rules use. Rate expressions ignore loc.
func Parse(expr string, loc *time.Location) (Expression, error) {
	s := strings.TrimSpace(expr)
	inner, isRate := strings.CutPrefix(s, "rate(")
	if !isRate {
		var isCron bool
		if inner, isCron = strings.CutPrefix(s, "cron("); !isCron {
			return nil, invalid(expr, "want rate(value unit) or cron(fields)")
		}
	}
	inner, closed := strings.CutSuffix(inner, ")")
	if !closed {
		return nil, invalid(expr, "missing closing parenthesis")
	}
	if isRate {
		return parseRate(expr, inner)
	}
	return parseCron(expr, inner, loc)
}

func invalid(expr, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrInvalid, expr, fmt.Sprintf(format, args...))
}

// Rate is a rate(value unit) expression: it fires every Period. Its first time is one period
// after the schedule starts, as EventBridge does.
type Rate struct {
	Period time.Duration
	expr   string
}

// Next returns after plus the period.
func (r Rate) Next(after time.Time) time.Time { return after.Add(r.Period) }

// String returns the expression as written.
func (r Rate) String() string { return r.expr }

var rateUnits = map[string]struct {
	singular bool
	unit     time.Duration
}{
	"minute": {true, time.Minute}, "minutes": {false, time.Minute},
	"hour": {true, time.Hour}, "hours": {false, time.Hour},
	"day": {true, 24 * time.Hour}, "days": {false, 24 * time.Hour},
}

// parseRate reads "value unit". As EventBridge requires, a value of 1 takes the singular unit
// and any other value the plural.
func parseRate(expr, inner string) (Rate, error) {
	parts := strings.Fields(inner)
	if len(parts) != 2 {
		return Rate{}, invalid(expr, "want rate(value unit), as rate(5 minutes)")
	}
	value, err := strconv.Atoi(parts[0])
	if err != nil || value <= 0 {
		return Rate{}, invalid(expr, "value %q is not a positive whole number", parts[0])
	}
	u, ok := rateUnits[parts[1]]
	if !ok {
		return Rate{}, invalid(expr, "unit %q is not one of minute(s), hour(s), day(s)", parts[1])
	}
	if value == 1 && !u.singular {
		return Rate{}, invalid(expr, "a value of 1 takes the singular unit %s", strings.TrimSuffix(parts[1], "s"))
	}
	if value != 1 && u.singular {
		return Rate{}, invalid(expr, "a value of %d takes the plural unit %ss", value, parts[1])
	}
	return Rate{Period: time.Duration(value) * u.unit, expr: expr}, nil
}
