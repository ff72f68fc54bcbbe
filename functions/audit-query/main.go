// Command audit-query is the AuditQuery function: GET /v1/audit/events lists the tenant's audit records, newest first (tenant admin).
package main

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("AuditQuery", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Audit(ctx)
	if err != nil {
		return nil, err
	}
	return audit.NewHandlers(svc).Query, nil
}
