// Command authorizer is the Authorizer function: the HTTP API's Lambda REQUEST authorizer. It
// verifies the Bearer access token and hands the caller's tenant, user, session and role to
// the route's function.
package main

import (
	"context"

	"caas.dev/shared/boot"
)

func main() { boot.Start("Authorizer", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	a, err := env.TokenAuthorizer(ctx)
	if err != nil {
		return nil, err
	}
	return a.Handle, nil
}
