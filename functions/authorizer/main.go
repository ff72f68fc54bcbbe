// Command authorizer is the Authorizer function: the HTTP API's Lambda REQUEST authorizer. It
// verifies the Bearer access token and hands the caller's tenant, user, session and role to
// the route's function.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
)

func main() { boot.Start("Authorizer", setup) }

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
	a := &identity.Authorizer{
		Verifier: &identity.Verifier{Config: tokens, Keys: keys, Clock: clock.System{}},
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Clock:    clock.System{},
		Log:      env.Log,
	}
	return a.Handle, nil
}
