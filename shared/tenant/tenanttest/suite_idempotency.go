package tenanttest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
	"caas.dev/shared/tenant"
)

// Stores are the stores tenant creation with an Idempotency-Key uses.
type Stores struct {
	Tenants tenant.Store
	Keys    idempotency.Store
}

// RunIdempotencySuite runs tenant.Service.Create with Idempotency-Keys against stores made by
// newStores (empty and migrated): a repeat finds the first tenant and never shows a key again,
// a different request conflicts, racing repeats make one tenant, and a retry after a stop
// creates the remembered one.
func RunIdempotencySuite(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("RepeatDoesNotShowTheKeyAgain", func(t *testing.T) {
		s := newStores(t)
		svc := service(s, s.Tenants)
		ten, key, err := svc.Create(t.Context(), "Acme", keyed(t, "t-1", "Acme"))
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		for range 2 {
			_, again, err := svc.Create(t.Context(), "Acme", keyed(t, "t-1", "Acme"))
			wantShownOnce(t, err, ten.ID)
			if again != "" {
				t.Error("a repeat returned an API key")
			}
		}
		if got, err := svc.Authenticate(t.Context(), key); err != nil || got != ten.ID {
			t.Errorf("the first key no longer authenticates: %q %v", got, err)
		}
		other, _, err := svc.Create(t.Context(), "Acme", keyed(t, "t-2", "Acme"))
		if err != nil || other.ID == ten.ID {
			t.Errorf("another key = %s, err %v; want another tenant", other.ID, err)
		}
	})
	t.Run("DifferentRequestConflicts", func(t *testing.T) {
		s := newStores(t)
		svc := service(s, s.Tenants)
		if _, _, err := svc.Create(t.Context(), "Acme", keyed(t, "t-1", "Acme")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Create(t.Context(), "Other", keyed(t, "t-1", "Other")); !errors.Is(err, idempotency.ErrConflict) {
			t.Errorf("same key, other name: err = %v, want idempotency.ErrConflict", err)
		}
	})
	t.Run("ConcurrentRepeatsMakeOne", func(t *testing.T) {
		s := newStores(t)
		svc := service(s, s.Tenants)
		const n = 20
		type result struct {
			ten tenant.Tenant
			key string
			err error
		}
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i].ten, results[i].key, results[i].err = svc.Create(t.Context(), "Race", keyed(t, "race", "Race"))
			})
		}
		wg.Wait()
		var winner result
		wins := 0
		for _, r := range results {
			if r.err == nil {
				wins++
				winner = r
			}
		}
		if wins != 1 {
			t.Fatalf("%d of %d racing creates succeeded, want exactly 1", wins, n)
		}
		for i, r := range results {
			if r.err != nil {
				wantShownOnce(t, r.err, winner.ten.ID)
				if r.key != "" {
					t.Errorf("request %d: a refused repeat returned a key", i)
				}
			}
		}
		if got, err := svc.Authenticate(t.Context(), winner.key); err != nil || got != winner.ten.ID {
			t.Errorf("the winner's key does not authenticate: %q %v", got, err)
		}
	})
	t.Run("RetryAfterStopCreatesRememberedID", func(t *testing.T) {
		s := newStores(t)
		crashed := &stopping{Store: s.Tenants}
		if _, _, err := service(s, crashed).Create(t.Context(), "Acme", keyed(t, "stop", "Acme")); !errors.Is(err, errStopped) {
			t.Fatalf("the stopping attempt = %v, want it to stop", err)
		}
		svc := service(s, s.Tenants)
		ten, key, err := svc.Create(t.Context(), "Acme", keyed(t, "stop", "Acme"))
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if ten.ID != crashed.asked.ID || !ten.CreatedAt.Equal(crashed.asked.CreatedAt) {
			t.Errorf("retry made %s at %v, want the remembered %s at %v", ten.ID, ten.CreatedAt, crashed.asked.ID, crashed.asked.CreatedAt)
		}
		if got, err := svc.Authenticate(t.Context(), key); err != nil || got != ten.ID {
			t.Errorf("the retry's key does not authenticate: %q %v", got, err)
		}
		_, _, err = svc.Create(t.Context(), "Acme", keyed(t, "stop", "Acme"))
		wantShownOnce(t, err, ten.ID)
	})
}

func service(s Stores, store tenant.Store) *tenant.Service {
	return &tenant.Service{Store: store, Keys: s.Keys, Clock: clock.System{}, IDs: ids.Random{}}
}

// keyed returns the idempotency of a POST /v1/tenants naming the tenant name.
func keyed(t *testing.T, key, name string) idempotency.Request {
	t.Helper()
	sum, err := idempotency.Fingerprint("POST", "/v1/tenants", map[string]string{"name": name})
	if err != nil {
		t.Fatal(err)
	}
	return idempotency.Request{Key: key, RequestSHA256: sum}
}

// wantShownOnce checks that err refuses a repeat and names the tenant it found.
func wantShownOnce(t *testing.T, err error, tenantID string) {
	t.Helper()
	fe := fault.As(err)
	if !errors.Is(err, tenant.ErrKeyShownOnce) || fe == nil || !strings.Contains(fe.Detail, tenantID) {
		t.Errorf("repeat: err = %v, want ErrKeyShownOnce naming %s", err, tenantID)
	}
}

// stopping is a tenant.Store whose CreateTenant records the tenant it was asked for and fails
// before writing it, as a function that stops after claiming the key would.
type stopping struct {
	tenant.Store
	asked tenant.Tenant
}

var errStopped = errors.New("stopped before writing")

func (s *stopping) CreateTenant(_ context.Context, t tenant.Tenant) error {
	s.asked = t
	return errStopped
}
