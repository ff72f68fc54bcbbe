// Command end-session is the EndSession function: DELETE /v1/auth/sessions/{id} ends one of the caller's sessions.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("EndSession", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.SessionService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.EndSessionHandler(svc), nil
}
