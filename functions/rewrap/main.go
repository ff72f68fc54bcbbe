// Command rewrap is the Rewrap function: POST /v1/crypto/rewrap seals ciphertexts again under their
// key's primary version without returning the plaintext.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("Rewrap", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).Rewrap, nil
}
