// Command ready is the Ready function: GET /ready checks MongoDB, Redis, Kafka and the S3 bucket
// and names any backend that is down.
package main

import (
	"context"
	"errors"
	"os"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/readiness"
	"caas.dev/shared/s3"
)

func main() { boot.HTTP("Ready", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	brokers, err := env.KafkaBrokers()
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := env.Redis()
	if err != nil {
		return nil, err
	}
	// A deployment without a bucket still serves /ready, and shows s3 down.
	s3Probe := func(context.Context) error { return errors.New("S3_BUCKET is not set") }
	if cfg := s3.ConfigFromEnv(os.Getenv); cfg.Bucket != "" {
		store, err := s3.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		s3Probe = store.Ping
	}

	return readiness.ReadyHandler(
		readiness.Check{Name: "mongo", Probe: db.Ping},
		readiness.Check{Name: "redis", Probe: rc.Ping},
		readiness.Check{Name: "kafka", Probe: readiness.KafkaProbe(brokers)},
		readiness.Check{Name: "s3", Probe: s3Probe},
	), nil
}
