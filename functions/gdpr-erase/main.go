// Command gdpr-erase is the GdprErase function: POST /v1/gdpr/erasures erases a user (GDPR
// Art. 17): ends their sessions, deletes their profile, MFA secrets and exports, shreds their
// key, unlinks their audit pseudonym and answers a receipt. The user may ask for themselves, a
// tenant admin (API key or admin user) for any user of the tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GdprErase", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	e, err := env.Eraser(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewErasureHandlers(e).Erase, nil
}
