package redis_test

import (
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/redis"
)

// TestAttemptLimiter drives the limiter with a controlled clock: blocks follow the caller's
// times, old counts start again and Reset forgets.
func TestAttemptLimiter(t *testing.T) {
	c, err := redis.Open(backendtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := c.NewAttemptLimiter(backendtest.Prefix(t) + "attempts:")
	ctx := t.Context()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	block := func(n int) time.Duration {
		if n >= 3 {
			return time.Duration(n) * time.Second
		}
		return 0
	}
	for i := 1; i <= 3; i++ {
		n, err := l.Fail(ctx, "k", now, block, time.Minute)
		if err != nil || n != i {
			t.Fatalf("failure %d: n=%d err=%v", i, n, err)
		}
	}
	if wait, err := l.Blocked(ctx, "k", now); err != nil || wait != 3*time.Second {
		t.Fatalf("after 3 failures: wait %v err %v, want 3s", wait, err)
	}
	if wait, _ := l.Blocked(ctx, "k", now.Add(3*time.Second)); wait != 0 {
		t.Fatalf("after the block: wait %v, want 0", wait)
	}
	if wait, _ := l.Blocked(ctx, "other", now); wait != 0 {
		t.Fatalf("another key is blocked: %v", wait)
	}
	// A count whose last failure is older than keep starts again.
	later := now.Add(2 * time.Minute)
	if n, _ := l.Fail(ctx, "k", later, block, time.Minute); n != 1 {
		t.Fatalf("after keep: n=%d, want 1", n)
	}
	for i := 0; i < 4; i++ {
		l.Fail(ctx, "k", later, block, time.Minute)
	}
	if err := l.Reset(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if wait, _ := l.Blocked(ctx, "k", later); wait != 0 {
		t.Fatalf("after reset: wait %v", wait)
	}
	if n, _ := l.Fail(ctx, "k", later, block, time.Minute); n != 1 {
		t.Fatalf("after reset: n=%d, want 1", n)
	}
}
