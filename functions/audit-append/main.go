// Command audit-append is the AuditAppend function: POST /v1/audit/events appends a tenant's own systems' events to its audit chain (API key).
package main

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/s3"
)

func main() { boot.HTTP("AuditAppend", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}

	// Checkpoints are also copied to object storage when a bucket is configured (always under
	// caas run), so a copy lives outside the database that holds the chain.
	var sink audit.CheckpointSink
	if cfg := s3.ConfigFromEnv(env.Getenv); cfg.Bucket != "" {
		store, err := s3.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		sink = s3.CheckpointSink{Store: store}
	}

	svc, err := audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Sink: sink, Logger: env.Log})
	if err != nil {
		return nil, err
	}
	return audit.NewHandlers(svc).Append, nil
}
