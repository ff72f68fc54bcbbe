// Command logout-all is the LogoutAll function: POST /v1/auth/logout-all ends every session of the caller.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("LogoutAll", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.SessionService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.LogoutAllHandler(svc), nil
}
