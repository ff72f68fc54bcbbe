// Command register is the Register function: POST /v1/auth/register registers a user in the
// tenant of the X-Api-Key.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("Register", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	tenants, err := env.TenantService(ctx)
	if err != nil {
		return nil, err
	}
	svc, err := env.UserService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.RegisterHandler(svc, tenants), nil
}
