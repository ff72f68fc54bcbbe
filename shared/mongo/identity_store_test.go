package mongo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/identity/identitytest"
	"caas.dev/shared/mongo"
	"caas.dev/shared/tenant"
	"caas.dev/shared/tenant/tenanttest"
)

func identityMongoURI(t *testing.T) string {
	t.Helper()
	return backendtest.MongoURI(t)
}

// openIdentityClient opens a migrated client on databases with a unique prefix, dropped when
// the test ends.
func openIdentityClient(t *testing.T) *mongo.Client {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := mongo.OpenWithPrefix(ctx, identityMongoURI(t), "t"+hex.EncodeToString(b)+"_")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Drop(ctx)
		_ = c.Close(ctx)
	})
	return c
}

func TestIdentityStores(t *testing.T) {
	identitytest.RunStoreSuite(t, func(t *testing.T) identitytest.Stores {
		c := openIdentityClient(t)
		return identitytest.Stores{Users: c.Users(), Sessions: c.Sessions(), Keys: c.SigningKeys()}
	})
}

func TestTenantStore(t *testing.T) {
	tenanttest.RunStoreSuite(t, func(t *testing.T) tenant.Store { return openIdentityClient(t).Tenants() })
}

func TestTenantIdempotency(t *testing.T) {
	tenanttest.RunIdempotencySuite(t, func(t *testing.T) tenanttest.Stores {
		c := openIdentityClient(t)
		return tenanttest.Stores{Tenants: c.Tenants(), Keys: mongo.NewIdempotencyKeys(c)}
	})
}

func TestMigrateIdentityTwice(t *testing.T) {
	c := openIdentityClient(t)
	if err := c.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
}
