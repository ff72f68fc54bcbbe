// Command migrate is the Migrate function: it creates the collections, indexes, the first
// signing key and the Kafka topics, idempotently. Invoke it after every deploy (`caas run`
// does the same at start).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/kafka"
	"caas.dev/shared/mongo"
)

type config struct {
	MongoURI     string
	KafkaBrokers string
	Topics       []string
}

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI"), KafkaBrokers: os.Getenv("KAFKA_BROKERS")}
	for _, t := range strings.Split(os.Getenv("CAAS_MESSAGES_TOPIC"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			c.Topics = append(c.Topics, t)
		}
	}
	if c.MongoURI == "" || c.KafkaBrokers == "" || len(c.Topics) == 0 {
		return c, errors.New("MONGO_URI, KAFKA_BROKERS and CAAS_MESSAGES_TOPIC are required")
	}
	return c, nil
}

type result struct {
	Status       string   `json:"status"`
	SigningKeyID string   `json:"signing_key_id"`
	Topics       []string `json:"topics"`
}

func main() {
	log := edge.NewLogger("Migrate")
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

	lambda.Start(func(ctx context.Context, _ json.RawMessage) (result, error) {
		if err := db.Migrate(ctx); err != nil {
			return result{}, err
		}
		key, err := identity.EnsureSigningKey(ctx, db.SigningKeys(), clock.System{}, ids.Random{})
		if err != nil {
			return result{}, err
		}
		if err := kafka.EnsureTopics(ctx, cfg.KafkaBrokers, kafka.DefaultTopicPartitions, cfg.Topics...); err != nil {
			return result{}, fmt.Errorf("migrate kafka: %w", err)
		}
		log.InfoContext(ctx, "migrated", "signing_key_id", key.ID, "topics", cfg.Topics)
		return result{Status: "migrated", SigningKeyID: key.ID, Topics: cfg.Topics}, nil
	})
}
