// Command list-sessions is the ListSessions function: GET /v1/auth/sessions lists the caller's live sessions.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("ListSessions", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.SessionService(ctx)
	if err != nil {
		return nil, err
	}
	return identity.ListSessionsHandler(svc), nil
}
