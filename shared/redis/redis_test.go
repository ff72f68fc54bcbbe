package redis_test

import (
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"caas.dev/shared/redis"
)

// redisURL returns REDIS_URL, or a miniredis of this test's own: the limiter's window is a
// key expiry, and miniredis expires keys only when its clock is moved, which needs the handle
// that backendtest's shared server does not give.
func redisURL(t *testing.T) (string, *miniredis.Miniredis) {
	t.Helper()
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u, nil
	}
	m := miniredis.RunT(t)
	return "redis://" + m.Addr(), m
}

func TestFailureLimiter(t *testing.T) {
	url, m := redisURL(t)
	c, err := redis.Open(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	prefix := "caas:test:" + t.Name() + ":" + time.Now().Format("150405.000000") + ":"
	l := c.NewFailureLimiter(prefix, 3, 2*time.Second)
	ctx := t.Context()

	for i := range 3 {
		if wait, err := l.Blocked(ctx, "ip:a"); err != nil || wait != 0 {
			t.Fatalf("before failure %d: wait %v err %v", i+1, wait, err)
		}
		if err := l.RecordFailure(ctx, "ip:a"); err != nil {
			t.Fatal(err)
		}
	}
	wait, err := l.Blocked(ctx, "ip:a")
	if err != nil || wait <= 0 || wait > 2*time.Second {
		t.Fatalf("after 3 failures: wait %v err %v, want (0, 2s]", wait, err)
	}
	if wait, _ := l.Blocked(ctx, "ip:b"); wait != 0 {
		t.Fatalf("another key is blocked: %v", wait)
	}

	// The window ends and the key may try again.
	if m != nil {
		m.FastForward(2100 * time.Millisecond)
	} else {
		time.Sleep(2100 * time.Millisecond)
	}
	if wait, err := l.Blocked(ctx, "ip:a"); err != nil || wait != 0 {
		t.Fatalf("after the window: wait %v err %v", wait, err)
	}
}

func TestOpenRejects(t *testing.T) {
	for _, u := range []string{"", "http://x", "redis://:bad port"} {
		if _, err := redis.Open(u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestPingDown(t *testing.T) {
	m := miniredis.RunT(t)
	c, err := redis.Open("redis://" + m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m.Close()
	if err := c.Ping(t.Context()); err == nil {
		t.Fatal("Ping of a stopped server succeeded")
	}
}
