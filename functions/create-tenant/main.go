// Command create-tenant is the CreateTenant function: POST /v1/tenants, for the platform
// operator (X-Admin-Key), creates a tenant and returns its API key once.
package main

import (
	"context"
	"errors"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/tenant"
)

// minAdminKeyLen matches the template's MinLength for the AdminKey parameter.
const minAdminKeyLen = 32

func main() { boot.HTTP("CreateTenant", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	adminKey := env.Getenv("CAAS_ADMIN_KEY")
	if len(adminKey) < minAdminKeyLen {
		return nil, errors.New("CAAS_ADMIN_KEY must be at least 32 characters")
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}

	svc := &tenant.Service{Store: db.Tenants(), Keys: mongo.NewIdempotencyKeys(db), Clock: clock.System{}, IDs: ids.Random{}}
	return tenant.CreateHandler(adminKey, svc), nil
}
