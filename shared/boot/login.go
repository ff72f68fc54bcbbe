package boot

import (
	"context"

	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// LoginService returns the identity service that logs users in and runs their MFA: users,
// sessions, MFA store, the account lockout (limits from the CAAS_LOGIN_ variables) and the IP
// lockout in Redis, the signing keys and the issuer, and the log as the event sink. With
// needSecrets (the MFA functions) it also opens the key service, which keeps TOTP seeds under
// the tenant's secrets key, and a missing master key fails the start; Login itself never opens
// a secret and starts without one.
func (e *Env) LoginService(ctx context.Context, needSecrets bool) (*identity.Service, error) {
	tokens, err := e.Tokens()
	if err != nil {
		return nil, err
	}
	lockout, err := identity.AccountLockoutFromEnv(e.getenv)
	if err != nil {
		return nil, err
	}
	var secrets identity.SecretKeeper
	if needSecrets {
		if secrets, err = e.Keys(ctx); err != nil {
			return nil, err
		}
	}
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := e.Redis()
	if err != nil {
		return nil, err
	}
	return identity.NewService(identity.Deps{
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Keys:     &identity.ActiveKeyCache{Store: db.SigningKeys()},
		Tokens:   &identity.Issuer{Config: tokens, Clock: clock.System{}, IDs: ids.Random{}},
		Argon2:   identity.DefaultArgon2,
		Clock:    clock.System{},
		IDs:      ids.Random{},
		MFA:      db.MFA(),
		Secrets:  secrets,
		Lockout:  rc.NewAttemptLimiter("caas:login:attempts:"),
		Events:   identity.LogSink{Log: e.Log},

		AccountLockout: lockout,
	})
}
