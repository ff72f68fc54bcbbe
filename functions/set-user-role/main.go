// Command set-user-role is the SetUserRole function: PUT /v1/users/{id}/role lets a tenant
// admin (the tenant's API key, or an admin user) make a user of the tenant an admin or an
// ordinary user.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("SetUserRole", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.UserService(ctx)
	if err != nil {
		return nil, err
	}
	svc.Events = identity.LogSink{Log: env.Log}
	return identity.SetUserRoleHandler(svc), nil
}
