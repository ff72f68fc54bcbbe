// Command get-me is the GetMe function: GET /v1/users/me returns the caller's profile.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("GetMe", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.UserService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.MeHandler(svc), nil
}
