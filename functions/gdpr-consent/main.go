// Command gdpr-consent is the GdprConsent function: POST /v1/gdpr/consents records a user's consent to a purpose, or its withdrawal (append-only).
// The user may ask for themselves, a tenant admin (API key or admin user) for any user of the
// tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GdprConsent", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.GDPR(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewHandlers(svc).RecordConsent, nil
}
