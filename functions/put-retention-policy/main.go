// Command put-retention-policy is the PutRetentionPolicy function: PUT /v1/retention/policy sets the tenant's retention periods (tenant admin).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/retention"
)

func main() { boot.HTTP("PutRetentionPolicy", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Retention(ctx)
	if err != nil {
		return nil, err
	}
	return retention.NewHandlers(svc).PutPolicy, nil
}
