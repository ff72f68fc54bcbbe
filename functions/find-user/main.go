// Command find-user is the FindUser function: GET /v1/users?email= finds a user of the tenant
// of the X-Api-Key, so a tenant's servers can learn the ids they put in conversations.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("FindUser", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	tenants, err := env.TenantService(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := env.UserService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.FindUserHandler(svc, tenants), nil
}
