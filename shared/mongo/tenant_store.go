package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"caas.dev/shared/tenant"
)

// tenantDoc is a document of caas_platform.tenants.
type tenantDoc struct {
	ID         string    `bson:"_id"`
	Name       string    `bson:"name"`
	APIKeyHash string    `bson:"api_key_hash"`
	CreatedAt  time.Time `bson:"created_at"`
}

// TenantStore implements tenant.Store.
type TenantStore struct {
	coll *mongo.Collection
}

// Tenants returns the tenant store.
func (c *Client) Tenants() *TenantStore {
	return &TenantStore{coll: c.platform.Collection(TenantsCollection)}
}

var _ tenant.Store = (*TenantStore)(nil)

// CreateTenant stores t; tenant.ErrExists when its id is taken.
func (s *TenantStore) CreateTenant(ctx context.Context, t tenant.Tenant) error {
	d := tenantDoc{ID: t.ID, Name: t.Name, APIKeyHash: t.APIKeyHash, CreatedAt: t.CreatedAt}
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return tenant.ErrExists
		}
		return fmt.Errorf("insert tenant: %w", err)
	}
	return nil
}

// TenantByID returns the tenant, or tenant.ErrNotFound.
func (s *TenantStore) TenantByID(ctx context.Context, id string) (tenant.Tenant, error) {
	var d tenantDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return tenant.Tenant{}, tenant.ErrNotFound
	}
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("find tenant: %w", err)
	}
	return tenant.Tenant{ID: d.ID, Name: d.Name, APIKeyHash: d.APIKeyHash, CreatedAt: d.CreatedAt.UTC()}, nil
}
