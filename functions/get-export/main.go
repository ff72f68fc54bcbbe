// Command get-export is the GetExport function: GET /v1/gdpr/exports/{id} returns an export's status and, when ready, a download link valid 15 minutes.
// The same callers as GdprExport may ask.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GetExport", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	x, err := env.Exporter(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewExportHandlers(x).GetExport, nil
}
