// Command ws-authorizer is the WsAuthorizer function: the WebSocket API's $connect REQUEST
// authorizer. It verifies the access token of the token query parameter or of the
// Sec-WebSocket-Protocol header ("caas, <token>") as the HTTP API's authorizer does, and
// answers with an IAM policy naming the caller's tenant, user, session and role.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/realtime"
)

func main() { boot.Start("WsAuthorizer", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	tokens, err := env.Tokens()
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}

	keys := &identity.KeySet{Store: db.SigningKeys(), Clock: clock.System{}}
	a := &realtime.Authorizer{HTTP: &identity.Authorizer{
		Verifier: &identity.Verifier{Config: tokens, Keys: keys, Clock: clock.System{}},
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Clock:    clock.System{},
		Log:      env.Log,
	}}
	return a.Handle, nil
}
