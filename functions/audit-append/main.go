// Command audit-append is the AuditAppend function: POST /v1/audit/events appends a tenant's own systems' events to its audit chain (API key).
package main

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("AuditAppend", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Audit(ctx)
	if err != nil {
		return nil, err
	}
	return audit.NewHandlers(svc).Append, nil
}
