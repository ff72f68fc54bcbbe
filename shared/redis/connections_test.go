package redis_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/realtime"
	"caas.dev/shared/redis"
)

// newConnections returns a registry on the test's Redis (embedded or REDIS_URL) under a
// prefix of its own, with a TTL of an hour on a clock the test moves.
func newConnections(t *testing.T) (*redis.Connections, *clock.Fixed) {
	t.Helper()
	c, err := redis.Open(backendtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	clk := clock.NewFixed(time.Now())
	return c.NewConnections("caas:test:"+backendtest.Prefix(t)+":", time.Hour, clk), clk
}

func conn(tenant, user, id string) realtime.Connection {
	return realtime.Connection{ID: id, TenantID: tenant, UserID: user, ConnectedAt: time.Now().UTC().Truncate(time.Millisecond)}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestConnectionsSeveralDevices(t *testing.T) {
	r, _ := newConnections(t)
	ctx := t.Context()

	first, err := r.Add(ctx, conn("ten_a", "usr_1", "c1"))
	if err != nil || !first {
		t.Fatalf("first device: first=%v err=%v, want true", first, err)
	}
	first, err = r.Add(ctx, conn("ten_a", "usr_1", "c2"))
	if err != nil || first {
		t.Fatalf("second device: first=%v err=%v, want false", first, err)
	}
	if _, err := r.Add(ctx, conn("ten_a", "usr_2", "c3")); err != nil {
		t.Fatal(err)
	}

	got, err := r.Connections(ctx, "ten_a", []string{"usr_1", "usr_2", "usr_none"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sorted(got["usr_1"]), []string{"c1", "c2"}) || !slices.Equal(got["usr_2"], []string{"c3"}) {
		t.Fatalf("connections = %v", got)
	}
	if _, ok := got["usr_none"]; ok {
		t.Fatalf("a user without connections is listed: %v", got)
	}

	// Removing one device removes exactly that one; the user stays online.
	c, last, err := r.Remove(ctx, "ten_a", "c1")
	if err != nil || last || c.UserID != "usr_1" || c.TenantID != "ten_a" || c.ID != "c1" {
		t.Fatalf("remove c1: %+v last=%v err=%v", c, last, err)
	}
	got, _ = r.Connections(ctx, "ten_a", []string{"usr_1", "usr_2"})
	if !slices.Equal(got["usr_1"], []string{"c2"}) || !slices.Equal(got["usr_2"], []string{"c3"}) {
		t.Fatalf("after removing c1: %v", got)
	}

	// Removing it again finds nothing; removing the last device says so.
	if _, _, err := r.Remove(ctx, "ten_a", "c1"); !errors.Is(err, realtime.ErrConnectionNotFound) {
		t.Fatalf("second remove of c1: %v, want ErrConnectionNotFound", err)
	}
	if _, last, err := r.Remove(ctx, "ten_a", "c2"); err != nil || !last {
		t.Fatalf("remove c2: last=%v err=%v, want last", last, err)
	}
	if first, err := r.Add(ctx, conn("ten_a", "usr_1", "c4")); err != nil || !first {
		t.Fatalf("reconnect: first=%v err=%v, want true", first, err)
	}
}

func TestConnectionsTenantIsolation(t *testing.T) {
	r, _ := newConnections(t)
	ctx := t.Context()

	// The same user id and connection id in two tenants are two different entries.
	if _, err := r.Add(ctx, conn("ten_a", "usr_1", "c1")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(ctx, conn("ten_b", "usr_1", "c9")); err != nil {
		t.Fatal(err)
	}
	got, _ := r.Connections(ctx, "ten_b", []string{"usr_1"})
	if !slices.Equal(got["usr_1"], []string{"c9"}) {
		t.Fatalf("tenant b sees %v", got)
	}
	if _, _, err := r.Remove(ctx, "ten_b", "c1"); !errors.Is(err, realtime.ErrConnectionNotFound) {
		t.Fatalf("tenant b removed tenant a's connection: %v", err)
	}
	got, _ = r.Connections(ctx, "ten_a", []string{"usr_1"})
	if !slices.Equal(got["usr_1"], []string{"c1"}) {
		t.Fatalf("tenant a after tenant b's remove: %v", got)
	}
}

func TestConnectionsExpire(t *testing.T) {
	r, clk := newConnections(t)
	ctx := t.Context()

	if _, err := r.Add(ctx, conn("ten_a", "usr_1", "old")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Minute)
	if _, err := r.Add(ctx, conn("ten_a", "usr_1", "new")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // "old" is past its hour, "new" is not

	got, err := r.Connections(ctx, "ten_a", []string{"usr_1"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["usr_1"], []string{"new"}) {
		t.Fatalf("after old expired: %v, want [new]", got)
	}
	// Removing the live one leaves nothing: the expired one does not count.
	if _, last, err := r.Remove(ctx, "ten_a", "new"); err != nil || !last {
		t.Fatalf("remove new: last=%v err=%v, want last", last, err)
	}
	clk.Advance(2 * time.Hour)
	if first, err := r.Add(ctx, conn("ten_a", "usr_1", "again")); err != nil || !first {
		t.Fatalf("after everything expired: first=%v err=%v", first, err)
	}
}

func TestConnectionsConcurrentFirst(t *testing.T) {
	r, _ := newConnections(t)
	ctx := t.Context()

	// Of many devices connecting at once exactly one is the first, and of them all
	// disconnecting at once exactly one is the last.
	const n = 20
	var mu sync.Mutex
	firsts, lasts := 0, 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			first, err := r.Add(ctx, conn("ten_a", "usr_1", "c"+string(rune('a'+i))))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if first {
				firsts++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range n {
		wg.Go(func() {
			_, last, err := r.Remove(ctx, "ten_a", "c"+string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			if last {
				lasts++
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if firsts != 1 || lasts != 1 {
		t.Fatalf("firsts=%d lasts=%d, want 1 and 1", firsts, lasts)
	}
}

func TestConnectionsRedisDown(t *testing.T) {
	c, err := redis.Open("redis://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := c.NewConnections("caas:test:", time.Hour, nil)
	if _, err := r.Add(t.Context(), conn("ten_a", "usr_1", "c1")); err == nil || errors.Is(err, realtime.ErrConnectionNotFound) {
		t.Fatalf("add with Redis down: %v", err)
	}
	if _, err := r.Connections(t.Context(), "ten_a", []string{"usr_1"}); err == nil {
		t.Fatal("list with Redis down succeeded")
	}
	if _, _, err := r.Remove(t.Context(), "ten_a", "c1"); err == nil || errors.Is(err, realtime.ErrConnectionNotFound) {
		t.Fatalf("remove with Redis down: %v", err)
	}
}
