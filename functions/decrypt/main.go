// Command decrypt is the Decrypt function: POST /v1/crypto/decrypt opens one ciphertext, or a
// batch, with the key and version each names.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("Decrypt", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).Decrypt, nil
}
