// Command get-user is the GetUser function: GET /v1/users/{id} returns id and display name of
// a user of the caller's tenant.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
)

type config struct{ MongoURI string }

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI")}
	if c.MongoURI == "" {
		return c, errors.New("MONGO_URI is required")
	}
	return c, nil
}

func main() {
	log := edge.NewLogger("GetUser")
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

	svc, err := identity.NewService(identity.Deps{Users: db.Users(), Argon2: identity.DefaultArgon2,
		Clock: clock.System{}, IDs: ids.Random{}})
	if err != nil {
		log.Error("build service", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(edge.HTTP(log, identity.GetUserHandler(svc)))
}
