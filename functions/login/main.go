// Command login is the Login function: POST /v1/auth/login checks email and password in the
// tenant of X-Tenant-ID and issues an access token and a refresh token.
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
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/redis"
)

// Failed logins allowed per source IP and window before 429.
const (
	failureLimit  = 20
	failureWindow = time.Minute
)

type config struct {
	MongoURI string
	RedisURL string
	Tokens   identity.TokenConfig
}

func loadConfig() (config, error) {
	c := config{MongoURI: os.Getenv("MONGO_URI"), RedisURL: os.Getenv("REDIS_URL")}
	if c.MongoURI == "" || c.RedisURL == "" {
		return c, errors.New("MONGO_URI and REDIS_URL are required")
	}
	tc, err := identity.TokenConfigFromEnv(os.Getenv)
	if err != nil {
		return c, fmt.Errorf("token config: %w", err)
	}
	c.Tokens = tc
	return c, nil
}

func main() {
	log := edge.NewLogger("Login")
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

	svc, err := identity.NewService(identity.Deps{
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Limiter:  rc.NewFailureLimiter("caas:login:failures:", failureLimit, failureWindow),
		Keys:     &identity.ActiveKeyCache{Store: db.SigningKeys()},
		Tokens:   &identity.Issuer{Config: cfg.Tokens, Clock: clock.System{}, IDs: ids.Random{}},
		Argon2:   identity.DefaultArgon2,
		Clock:    clock.System{},
		IDs:      ids.Random{},
	})
	if err != nil {
		log.Error("build service", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(edge.HTTP(log, identity.LoginHandler(svc)))
}
