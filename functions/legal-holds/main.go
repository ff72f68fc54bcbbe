// Command legal-holds is the LegalHolds function: POST and GET /v1/retention/holds place and list legal holds, DELETE /v1/retention/holds/{id} releases one (tenant admin).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/retention"
)

func main() { boot.HTTP("LegalHolds", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Retention(ctx)
	if err != nil {
		return nil, err
	}
	return retention.NewHandlers(svc).Holds, nil
}
