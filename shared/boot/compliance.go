package boot

import (
	"context"

	"caas.dev/shared/audit"
	"caas.dev/shared/clock"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
	"caas.dev/shared/s3"
)

// Audit returns the audit trail on the Mongo client and the key service (which seals the
// tenants' pseudonym and checkpoint keys). When a bucket is configured (S3_BUCKET; always under
// `caas run`), every checkpoint an append makes is also copied there, outside the database that
// holds the chain.
func (e *Env) Audit(ctx context.Context) (*audit.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := e.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var sink audit.CheckpointSink
	if cfg := s3.ConfigFromEnv(e.getenv); cfg.Bucket != "" {
		store, err := s3.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		sink = s3.CheckpointSink{Store: store}
	}
	return audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Sink: sink, Logger: e.Log})
}

// GDPR returns the GDPR service on the Mongo client: consents, users and idempotency keys. It
// records no rectification until the caller sets Changes (GDPRWithAudit does).
func (e *Env) GDPR(ctx context.Context) (*gdpr.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	return &gdpr.Service{
		Consents: mongo.NewConsentStore(db), Users: db.Users(), Profiles: db.Users(),
		Keys: mongo.NewIdempotencyKeys(db), Clock: clock.System{}, IDs: ids.Random{},
		Erased: mongo.NewErasureStore(db),
	}, nil
}

// GDPRWithAudit is GDPR recording every rectification in the audit trail, its values sealed
// under the subject's own key.
func (e *Env) GDPRWithAudit(ctx context.Context) (*gdpr.Service, error) {
	svc, err := e.GDPR(ctx)
	if err != nil {
		return nil, err
	}
	trail, err := e.Audit(ctx)
	if err != nil {
		return nil, err
	}
	ks, err := e.Keys(ctx)
	if err != nil {
		return nil, err
	}
	svc.Changes = gdpr.AuditRecorder{Audit: trail, Keys: ks, IDs: ids.Random{}}
	return svc, nil
}

// subjectDeps are what the services that act on a data subject's whole record (export and
// erasure) share: the GDPR service, the Mongo client, the key service and the audit trail.
type subjectDeps struct {
	gdpr  *gdpr.Service
	db    *mongo.Client
	keys  *keys.Service
	audit *audit.Service
}

func (e *Env) subjectDeps(ctx context.Context) (subjectDeps, error) {
	svc, err := e.GDPR(ctx)
	if err != nil {
		return subjectDeps{}, err
	}
	db, err := e.Mongo(ctx)
	if err != nil {
		return subjectDeps{}, err
	}
	ks, err := e.Keys(ctx)
	if err != nil {
		return subjectDeps{}, err
	}
	trail, err := e.Audit(ctx)
	if err != nil {
		return subjectDeps{}, err
	}
	return subjectDeps{gdpr: svc, db: db, keys: ks, audit: trail}, nil
}
