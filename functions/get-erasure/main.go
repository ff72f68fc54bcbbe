// Command get-erasure is the GetErasure function: GET /v1/gdpr/erasures/{id} returns the
// receipt of an erasure to a tenant admin.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GetErasure", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	e, err := env.Eraser(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewErasureHandlers(e).Get, nil
}
