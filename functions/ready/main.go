// Command ready is the Ready function: GET /ready checks MongoDB, Redis and Kafka and names any
// backend that is down.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/readiness"
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

	return readiness.ReadyHandler(
		readiness.Check{Name: "mongo", Probe: db.Ping},
		readiness.Check{Name: "redis", Probe: rc.Ping},
		readiness.Check{Name: "kafka", Probe: readiness.KafkaProbe(brokers)},
	), nil
}
