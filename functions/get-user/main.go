// Command get-user is the GetUser function: GET /v1/users/{id} returns id and display name of
// a user of the caller's tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("GetUser", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.UserService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.GetUserHandler(svc), nil
}
