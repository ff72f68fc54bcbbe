// Command login is the Login function: POST /v1/auth/login checks email and password in the
// tenant of X-Tenant-ID and issues an access token and a refresh token.
package main

import (
	"context"
	"time"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// Failed logins allowed per source IP and window before 429.
const (
	failureLimit  = 20
	failureWindow = time.Minute
)

func main() { boot.HTTP("Login", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	tokens, err := env.Tokens()
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := env.Redis()
	if err != nil {
		return nil, err
	}

	svc, err := identity.NewService(identity.Deps{
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Limiter:  rc.NewFailureLimiter("caas:login:failures:", failureLimit, failureWindow),
		Keys:     &identity.ActiveKeyCache{Store: db.SigningKeys()},
		Tokens:   &identity.Issuer{Config: tokens, Clock: clock.System{}, IDs: ids.Random{}},
		Argon2:   identity.DefaultArgon2,
		Clock:    clock.System{},
		IDs:      ids.Random{},
	})
	if err != nil {
		return nil, err
	}
	return identity.LoginHandler(svc), nil
}
