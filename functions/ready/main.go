// Command ready is the Ready function: GET /ready checks MongoDB, Redis and Kafka and names any
// backend that is down.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/edge"
	"caas.dev/shared/mongo"
	"caas.dev/shared/readiness"
	"caas.dev/shared/redis"
)

type config struct {
	MongoURI, RedisURL, KafkaBrokers string
}

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI"), RedisURL: os.Getenv("REDIS_URL"), KafkaBrokers: os.Getenv("KAFKA_BROKERS")}
	if c.MongoURI == "" || c.RedisURL == "" || c.KafkaBrokers == "" {
		return c, errors.New("MONGO_URI, REDIS_URL and KAFKA_BROKERS are required")
	}
	return c, nil
}

func main() {
	log := edge.NewLogger("Ready")
	cfg, err := loadConfig()
	if err != nil {
		log.Error("bad configuration", "error", err.Error())
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, cfg.MongoURI)
	if err != nil {
		log.Error("open mongo", "error", err.Error())
		os.Exit(1)
	}
	rc, err := redis.Open(cfg.RedisURL)
	if err != nil {
		log.Error("open redis", "error", err.Error())
		os.Exit(1)
	}

	h := readiness.ReadyHandler(
		readiness.Check{Name: "mongo", Probe: db.Ping},
		readiness.Check{Name: "redis", Probe: rc.Ping},
		readiness.Check{Name: "kafka", Probe: readiness.KafkaProbe(cfg.KafkaBrokers)},
	)
	lambda.Start(edge.HTTP(log, h))
}
