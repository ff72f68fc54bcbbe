// Command authorizer is the Authorizer function: the HTTP API's Lambda REQUEST authorizer. It
// verifies the Bearer access token and hands the caller's tenant, user, session and role to
// the route's function.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
	"caas.dev/shared/mongo"
)

type config struct {
	MongoURI string
	Tokens   identity.TokenConfig
}

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI")}
	if c.MongoURI == "" {
		return c, errors.New("MONGO_URI is required")
	}
	tc, err := identity.TokenConfigFromEnv(os.Getenv)
	if err != nil {
		return c, fmt.Errorf("token config: %w", err)
	}
	c.Tokens = tc
	return c, nil
}

func main() {
	log := edge.NewLogger("Authorizer")
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

	keys := &identity.KeySet{Store: db.SigningKeys(), Clock: clock.System{}}
	a := &identity.Authorizer{
		Verifier: &identity.Verifier{Config: cfg.Tokens, Keys: keys, Clock: clock.System{}},
		Users:    db.Users(),
		Clock:    clock.System{},
		Log:      log,
	}
	lambda.Start(a.Handle)
}
