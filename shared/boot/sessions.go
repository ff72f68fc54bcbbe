package boot

import (
	"context"

	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/tenant"
)

// SessionService returns the session service on the Mongo client's sessions and users, with
// the active signing key and the token configuration for refresh, and events written to the
// function's log.
func (e *Env) SessionService(ctx context.Context) (*identity.SessionService, error) {
	tokens, err := e.Tokens()
	if err != nil {
		return nil, err
	}
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	return identity.NewSessionService(identity.SessionDeps{
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Keys:     &identity.ActiveKeyCache{Store: db.SigningKeys()},
		Tokens:   &identity.Issuer{Config: tokens, Clock: clock.System{}, IDs: ids.Random{}},
		Events:   identity.LogSink{Log: e.Log},
		Clock:    clock.System{},
		IDs:      ids.Random{},
	})
}

// TokenAuthorizer returns the authorizer both APIs use (the HTTP API's and the WebSocket API's
// $connect): RS256 access tokens checked against the published signing keys, the session and
// the user still live, and the user's current role; on the HTTP API also tenant API keys
// (X-Api-Key), checked against the tenants' stored key hashes.
func (e *Env) TokenAuthorizer(ctx context.Context) (*identity.Authorizer, error) {
	tokens, err := e.Tokens()
	if err != nil {
		return nil, err
	}
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	keys := &identity.KeySet{Store: db.SigningKeys(), Clock: clock.System{}}
	return &identity.Authorizer{
		Verifier: &identity.Verifier{Config: tokens, Keys: keys, Clock: clock.System{}},
		Users:    db.Users(),
		Sessions: db.Sessions(),
		Tenants:  &tenant.Service{Store: db.Tenants(), Clock: clock.System{}, IDs: ids.Random{}},
		Clock:    clock.System{},
		Log:      e.Log,
	}, nil
}
