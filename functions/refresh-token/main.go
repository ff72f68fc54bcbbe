// Command refresh-token is the RefreshToken function: POST /v1/auth/refresh exchanges a refresh token for a new pair; a reused one ends its session.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("RefreshToken", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.SessionService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.RefreshHandler(svc), nil
}
