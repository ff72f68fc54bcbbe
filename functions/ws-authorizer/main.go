// Command ws-authorizer is the WsAuthorizer function: the WebSocket API's $connect REQUEST
// authorizer. It verifies the access token of the token query parameter or of the
// Sec-WebSocket-Protocol header ("caas, <token>") as the HTTP API's authorizer does, and
// answers with an IAM policy naming the caller's tenant, user, session and role.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/realtime"
)

func main() { boot.Start("WsAuthorizer", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	a, err := env.TokenAuthorizer(ctx)
	if err != nil {
		return nil, err
	}
	return (&realtime.Authorizer{HTTP: a}).Handle, nil
}
