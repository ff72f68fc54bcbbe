// Command create-key is the CreateKey function: POST /v1/keys creates a named encryption key of the
// caller's tenant (tenant admins only).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("CreateKey", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).CreateKey, nil
}
