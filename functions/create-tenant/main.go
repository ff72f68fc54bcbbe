// Command create-tenant is the CreateTenant function: POST /v1/tenants, for the platform
// operator (X-Admin-Key), creates a tenant and returns its API key once.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/tenant"
)

type config struct {
	MongoURI string
	AdminKey string
}

// minAdminKeyLen matches the template's MinLength for the AdminKey parameter.
const minAdminKeyLen = 32

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI"), AdminKey: os.Getenv("CAAS_ADMIN_KEY")}
	if c.MongoURI == "" {
		return c, errors.New("MONGO_URI is required")
	}
	if len(c.AdminKey) < minAdminKeyLen {
		return c, errors.New("CAAS_ADMIN_KEY must be at least 32 characters")
	}
	return c, nil
}

func main() {
	log := edge.NewLogger("CreateTenant")
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

	svc := &tenant.Service{Store: db.Tenants(), Keys: mongo.NewIdempotencyKeys(db), Clock: clock.System{}, IDs: ids.Random{}}
	lambda.Start(edge.HTTP(log, tenant.CreateHandler(cfg.AdminKey, svc)))
}
