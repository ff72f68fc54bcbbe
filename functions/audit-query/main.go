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
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}

	svc, err := audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Logger: env.Log})
	if err != nil {
		return nil, err
	}
	return audit.NewHandlers(svc).Query, nil
}
