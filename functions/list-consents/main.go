// Command list-consents is the ListConsents function: GET /v1/gdpr/consents returns a user's consent history, newest first, and the current state per purpose.
// The user may ask for themselves, a tenant admin (API key or admin user) for any user of the
// tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("ListConsents", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.GDPR(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewHandlers(svc).ListConsents, nil
}
