// Command audit-verify is the AuditVerify function: POST /v1/audit/verify recomputes the tenant's audit chain and names the first broken record (tenant admin).
package main

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("AuditVerify", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Audit(ctx)
	if err != nil {
		return nil, err
	}
	return audit.NewHandlers(svc).Verify, nil
}
