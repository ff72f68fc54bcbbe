// Package tenanttest holds the conformance suite every tenant.Store implementation must pass.
package tenanttest

import (
	"errors"
	"testing"
	"time"

	"caas.dev/shared/ids"
	"caas.dev/shared/tenant"
)

// RunStoreSuite runs the conformance tests against stores made by newStore. Each call of
// newStore must return an empty, migrated store.
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) tenant.Store) {
	t.Run("CreateAndGet", func(t *testing.T) {
		s := newStore(t)
		in := tenant.Tenant{ID: ids.Random{}.New(ids.Tenant), Name: "Acme", APIKeyHash: "h1",
			CreatedAt: time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC)}
		if err := s.CreateTenant(t.Context(), in); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
		got, err := s.TenantByID(t.Context(), in.ID)
		if err != nil {
			t.Fatalf("TenantByID: %v", err)
		}
		if got != in {
			t.Fatalf("TenantByID = %+v, want %+v", got, in)
		}
	})
	t.Run("DuplicateID", func(t *testing.T) {
		s := newStore(t)
		in := tenant.Tenant{ID: ids.Random{}.New(ids.Tenant), Name: "A", APIKeyHash: "h", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := s.CreateTenant(t.Context(), in); err != nil {
			t.Fatal(err)
		}
		in.Name = "B"
		if err := s.CreateTenant(t.Context(), in); !errors.Is(err, tenant.ErrExists) {
			t.Fatalf("second CreateTenant err = %v, want ErrExists", err)
		}
		got, _ := s.TenantByID(t.Context(), in.ID)
		if got.Name != "A" {
			t.Fatalf("the duplicate overwrote the tenant: %+v", got)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.TenantByID(t.Context(), ids.Random{}.New(ids.Tenant)); !errors.Is(err, tenant.ErrNotFound) {
			t.Fatalf("TenantByID(unknown) err = %v, want ErrNotFound", err)
		}
	})
}
