// Command update-key is the UpdateKey function: PATCH /v1/keys/{name} changes a key's policy:
// minimum decryption version, rotation period, roles (tenant admins only).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("UpdateKey", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).UpdateKey, nil
}
