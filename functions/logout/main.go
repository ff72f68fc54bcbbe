// Command logout is the Logout function: POST /v1/auth/logout ends the caller's current session.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("Logout", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.SessionService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.LogoutHandler(svc), nil
}
