// Command retention is the Retention function: every 15 minutes (an EventBridge schedule) it
// deletes, for each tenant with a retention policy, what is past its period, in bounded
// batches inside its time budget, resuming on the next run where this one stopped. It answers
// what it did.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/boot"
	"caas.dev/shared/retention"
)

func main() { boot.Start("Retention", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Retention(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev events.EventBridgeEvent) (retention.RunResult, error) {
		res, err := svc.Run(ctx)
		if err != nil {
			// Returning the error marks the run failed; the next run resumes from the cursors
			// this one stored.
			env.Log.ErrorContext(ctx, "retention run", "tenants", len(res.Tenants), "error", err.Error())
			return res, err
		}
		for _, t := range res.Tenants {
			if t.Error != "" {
				env.Log.WarnContext(ctx, "retention of a tenant failed", "tenant_id", t.TenantID, "error", t.Error)
			}
		}
		env.Log.InfoContext(ctx, "retention run", "tenants", len(res.Tenants), "deleted", res.Deleted,
			"finished", res.Finished, "event_id", ev.ID)
		return res, nil
	}, nil
}
