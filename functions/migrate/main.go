// Command migrate is the Migrate function: it creates the collections, indexes, the first
// signing key and the Kafka topics, idempotently. Invoke it after every deploy (`caas run`
// does the same at start).
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/kafka"
)

type result struct {
	Status       string   `json:"status"`
	SigningKeyID string   `json:"signing_key_id"`
	Topics       []string `json:"topics"`
}

func main() { boot.Start("Migrate", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	brokers, err := env.KafkaBrokers()
	if err != nil {
		return nil, err
	}
	topics, err := env.Topics()
	if err != nil {
		return nil, err
	}
	// The request recorder's topic, caas.audit, consumed by AuditAppend.
	if t := env.Getenv("CAAS_AUDIT_TOPIC"); t != "" {
		topics = append(topics, t)
	}
	// The GDPR export jobs' topic, caas.gdpr.exports, consumed by GdprExportWorker.
	if t := env.Getenv("CAAS_EXPORTS_TOPIC"); t != "" {
		topics = append(topics, t)
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}

	return func(ctx context.Context, _ json.RawMessage) (result, error) {
		if err := db.Migrate(ctx); err != nil {
			return result{}, err
		}
		key, err := identity.EnsureSigningKey(ctx, db.SigningKeys(), clock.System{}, ids.Random{})
		if err != nil {
			return result{}, err
		}
		if err := kafka.EnsureTopics(ctx, brokers, kafka.DefaultTopicPartitions, topics...); err != nil {
			return result{}, fmt.Errorf("migrate kafka: %w", err)
		}
		env.Log.InfoContext(ctx, "migrated", "signing_key_id", key.ID, "topics", topics)
		return result{Status: "migrated", SigningKeyID: key.ID, Topics: topics}, nil
	}, nil
}
