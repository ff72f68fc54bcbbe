// Command gdpr-export is the GdprExport function: POST /v1/gdpr/exports starts an export of a user's data (GDPR Art. 15 and 20).
// It stores a pending job and hands it to GdprExportWorker; the user may ask for themselves, a
// tenant admin (API key or admin user) for any user of the tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GdprExport", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	x, err := env.Exporter(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewExportHandlers(x).StartExport, nil
}
