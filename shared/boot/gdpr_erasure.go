package boot

import (
	"context"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/mongo"
	"caas.dev/shared/s3"
)

// Eraser returns the GDPR erasure service: the Mongo stores, the key service (which shreds the
// user's key), the audit trail, the legal holds (which refuse an erasure), the media store and, when a bucket is configured (S3_BUCKET;
// always under `caas run`), the bucket that holds export archives and media objects.
func (e *Env) Eraser(ctx context.Context) (*gdpr.Eraser, error) {
	d, err := e.subjectDeps(ctx)
	if err != nil {
		return nil, err
	}
	svc, db, ks, trail := d.gdpr, d.db, d.keys, d.audit
	store := mongo.NewErasureStore(db)
	er := &gdpr.Eraser{GDPR: svc, Store: store, Data: store, Keys: ks, Audit: trail,
		ExportPrefix: mongo.ExportObjectPrefix, Media: mongo.NewMediaStore(db), Holds: db.Retention()}
	if cfg := s3.ConfigFromEnv(e.getenv); cfg.Bucket != "" {
		objects, err := s3.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		er.Objects, er.MediaObjects = objects, objects
	}
	return er, nil
}
