// Command open-id-configuration is the OpenIdConfiguration function: GET
// /.well-known/openid-configuration publishes the OpenID discovery document (issuer, jwks_uri,
// signing algorithms) that API Gateway's JWT authorizer and other verifiers read.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("OpenIdConfiguration", setup) }

func setup(_ context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	tokens, err := env.Tokens()
	if err != nil {
		return nil, err
	}
	return identity.DiscoveryHandler(tokens), nil
}
