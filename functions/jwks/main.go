// Command jwks is the Jwks function: GET /.well-known/jwks.json publishes the public halves of
// the signing keys that still verify tokens, as an RFC 7517 JSON Web Key Set.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("Jwks", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	return identity.JWKSHandler(&identity.JWKSCache{Store: db.SigningKeys(), Clock: clock.System{}}), nil
}
