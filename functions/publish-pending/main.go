// Command publish-pending is the PublishPending function: every minute (an EventBridge schedule) it publishes to Kafka the messages whose publication failed in their request, oldest first, so no stored message is left out of the event stream.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/kafka"
	"caas.dev/shared/mongo"
)

type config struct {
	MongoURI      string
	KafkaBrokers  string
	MessagesTopic string
}

func loadConfig() (config, error) {
	c := config{
		MongoURI:      os.Getenv("MONGO_URI"),
		KafkaBrokers:  os.Getenv("KAFKA_BROKERS"),
		MessagesTopic: os.Getenv("CAAS_MESSAGES_TOPIC"),
	}
	if c.MongoURI == "" || c.KafkaBrokers == "" || c.MessagesTopic == "" {
		return c, errors.New("MONGO_URI, KAFKA_BROKERS and CAAS_MESSAGES_TOPIC are required")
	}
	return c, nil
}

func main() {
	log := edge.NewLogger("PublishPending")
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
	pub, err := kafka.NewPublisher(cfg.KafkaBrokers, cfg.MessagesTopic)
	if err != nil {
		log.Error("open kafka publisher", "error", err.Error())
		os.Exit(1)
	}

	svc := chat.NewService(chat.Deps{
		Store:     mongo.NewChatStore(db),
		Directory: mongo.NewUserDirectory(db),
		Publisher: pub,
	})
	lambda.Start(func(ctx context.Context, ev events.EventBridgeEvent) error {
		n, err := svc.PublishPending(ctx)
		if err != nil {
			// Returning the error marks the run failed; the next run starts over where this stopped.
			log.ErrorContext(ctx, "publish pending messages", "published", n, "error", err.Error())
			return err
		}
		log.InfoContext(ctx, "published pending messages", "published", n, "event_id", ev.ID)
		return nil
	})
}
