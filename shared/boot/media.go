package boot

import (
	"context"
	"errors"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/s3"
)

// Media returns the media service: documents in caas_platform.media, bytes in the bucket of
// S3_BUCKET (required: `caas run` always configures its embedded S3), memberships from the chat
// store and idempotency keys in Mongo.
func (e *Env) Media(ctx context.Context) (*media.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	cfg := s3.ConfigFromEnv(e.getenv)
	if cfg.Bucket == "" {
		return nil, errors.New(s3.BucketEnv + " is required")
	}
	objects, err := s3.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	store := mongo.NewMediaStore(db)
	return &media.Service{Store: store, Objects: objects, Members: store, Keys: mongo.NewIdempotencyKeys(db),
		Clock: clock.System{}, IDs: ids.Random{}}, nil
}
