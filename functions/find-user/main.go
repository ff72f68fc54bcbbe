// Command find-user is the FindUser function: GET /v1/users?email= finds a user of the tenant
// of the X-Api-Key, so a tenant's servers can learn the ids they put in conversations.
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
	"caas.dev/shared/tenant"
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
	log := edge.NewLogger("FindUser")
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

	tenants := &tenant.Service{Store: db.Tenants(), Clock: clock.System{}, IDs: ids.Random{}}
	svc, err := identity.NewService(identity.Deps{Users: db.Users(), Argon2: identity.DefaultArgon2,
		Clock: clock.System{}, IDs: ids.Random{}})
	if err != nil {
		log.Error("build service", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(edge.HTTP(log, identity.FindUserHandler(svc, tenants)))
}
