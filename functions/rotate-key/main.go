// Command rotate-key is the RotateKey function: POST /v1/keys/{name}/rotate adds a new primary
// version to a key (tenant admins only).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("RotateKey", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).RotateKey, nil
}
