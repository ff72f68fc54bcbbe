// Command gdpr-rectify is the GdprRectify function: PATCH /v1/gdpr/users/{id} corrects a user's display name or email (GDPR Art. 16).
// The user may ask for themselves, a tenant admin (API key or admin user) for any user of the
// tenant.
package main

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
)

func main() { boot.HTTP("GdprRectify", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}

	ks, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	trail, err := audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Logger: env.Log})
	if err != nil {
		return nil, err
	}

	svc := &gdpr.Service{
		Consents: mongo.NewConsentStore(db), Users: db.Users(), Profiles: db.Users(),
		Changes: gdpr.AuditRecorder{Audit: trail, Keys: ks, IDs: ids.Random{}},
		Keys:    mongo.NewIdempotencyKeys(db), Clock: clock.System{}, IDs: ids.Random{},
	}
	return gdpr.NewHandlers(svc).Rectify, nil
}
