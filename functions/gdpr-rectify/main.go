// Command gdpr-rectify is the GdprRectify function: PATCH /v1/gdpr/users/{id} corrects a user's display name or email (GDPR Art. 16).
// The user may ask for themselves, a tenant admin (API key or admin user) for any user of the
// tenant.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

func main() { boot.HTTP("GdprRectify", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.GDPRWithAudit(ctx)
	if err != nil {
		return nil, err
	}
	return gdpr.NewHandlers(svc).Rectify, nil
}
