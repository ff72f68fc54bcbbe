// Command gdpr-export-worker is the GdprExportWorker function: triggered by the job events of
// the caas.gdpr.exports topic, it builds each export's archive (a ZIP of JSON files) in the
// bucket; run every 5 minutes by a schedule, it builds the jobs still waiting after a minute
// (a lost event, a crashed worker, a failed attempt to retry) and expires old archives. Each
// attempt is claimed by an insert into a unique index, so two workers never build one job.
package main

import (
	"context"
	"encoding/json"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.Start("GdprExportWorker", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	x, err := env.Exporter(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, raw json.RawMessage) (gdpr.RunResult, error) {
		res, err := x.Run(edge.WithLogger(ctx, env.Log), raw)
		if err != nil {
			env.Log.ErrorContext(ctx, "export run failed", "built", res.Built, "failed", res.Failed, "error", err.Error())
			return res, err
		}
		env.Log.InfoContext(ctx, "export run done", "built", res.Built, "failed", res.Failed,
			"skipped", res.Skipped, "expired", res.Expired)
		return res, nil
	}, nil
}
