// Command get-key is the GetKey function: GET /v1/keys/{name} shows a key's versions and policy,
// never its material (tenant admins only).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("GetKey", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).GetKey, nil
}
