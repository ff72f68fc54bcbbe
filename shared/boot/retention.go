package boot

import (
	"context"

	"caas.dev/shared/identity"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
	"caas.dev/shared/s3"
)

// Retention returns the retention service on the Mongo client, writing each run's record to
// the audit trail. When a bucket is configured (S3_BUCKET; always under `caas run`), expired
// export archives and media objects are deleted from it as well as their records.
func (e *Env) Retention(ctx context.Context) (*retention.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	trail, err := e.Audit(ctx)
	if err != nil {
		return nil, err
	}
	cfg := retention.Config{Store: db.Retention(), Audit: trail, SessionIdle: identity.DefaultRefreshTTL,
		Media: mongo.NewMediaStore(db), Erasures: mongo.NewErasureStore(db)}
	if sc := s3.ConfigFromEnv(e.getenv); sc.Bucket != "" {
		store, err := s3.Open(ctx, sc)
		if err != nil {
			return nil, err
		}
		cfg.Objects = store
	}
	return retention.New(cfg)
}
