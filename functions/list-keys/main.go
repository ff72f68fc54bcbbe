// Command list-keys is the ListKeys function: GET /v1/keys lists the tenant's keys by name, a page
// at a time (tenant admins only).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

func main() { boot.HTTP("ListKeys", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return keys.NewHandlers(svc).ListKeys, nil
}
