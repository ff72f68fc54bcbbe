// Package clock gives code the current time through an interface, so tests control it.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// System is the real clock. Its times are UTC, truncated to milliseconds: the precision MongoDB
// stores, so a time read back equals the time written.
type System struct{}

// Now returns the current UTC time at millisecond precision.
func (System) Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Fixed is a clock for tests that only moves when told to. Its zero value is not usable; make
// one with NewFixed.
type Fixed struct {
	mu  sync.Mutex
	now time.Time
}

// NewFixed returns a clock standing at t.
func NewFixed(t time.Time) *Fixed { return &Fixed{now: t.UTC().Truncate(time.Millisecond)} }

// Now returns the clock's time.
func (f *Fixed) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d.
func (f *Fixed) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d).Truncate(time.Millisecond)
}
