// Command create-conversation is the CreateConversation function: POST /v1/conversations creates a group conversation or opens the direct conversation of two users.
package main

import (
	"context"
	"errors"
	"os"
	"time"

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
	log := edge.NewLogger("CreateConversation")
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
		Keys:      mongo.NewIdempotencyKeys(db),
	})
	lambda.Start(edge.HTTP(log, chat.NewHandlers(svc).CreateConversation))
}
