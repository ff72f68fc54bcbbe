package boot

import (
	"context"

	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/tenant"
)

// ChatDeps returns the chat service's stores on the Mongo client and the Publisher of message
// events: enough for conversations, memberships, read positions and publishing stored events.
// Functions that seal or open message bodies use MessageDeps. A function that needs more
// (idempotency keys) adds them before chat.NewService.
func (e *Env) ChatDeps(ctx context.Context) (chat.Deps, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return chat.Deps{}, err
	}
	pub, err := e.Publisher()
	if err != nil {
		return chat.Deps{}, err
	}
	return chat.Deps{Store: mongo.NewChatStore(db), Directory: mongo.NewUserDirectory(db), Publisher: pub}, nil
}

// MessageDeps is ChatDeps with the key service, which seals and opens message bodies: only the
// functions that write or read bodies open it (and need the master key to start).
func (e *Env) MessageDeps(ctx context.Context) (chat.Deps, error) {
	deps, err := e.ChatDeps(ctx)
	if err != nil {
		return chat.Deps{}, err
	}
	if deps.Cipher, err = e.Keys(ctx); err != nil {
		return chat.Deps{}, err
	}
	return deps, nil
}

// UserService returns the identity service on the Mongo client's users, for the functions
// that register, find and read users; it issues no tokens.
func (e *Env) UserService(ctx context.Context) (*identity.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	return identity.NewService(identity.Deps{Users: db.Users(), Argon2: identity.DefaultArgon2,
		Clock: clock.System{}, IDs: ids.Random{}})
}

// TenantService returns the tenant service on the Mongo client, for the functions that
// authenticate a tenant's API key; it has no idempotency keys.
func (e *Env) TenantService(ctx context.Context) (*tenant.Service, error) {
	db, err := e.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	return &tenant.Service{Store: db.Tenants(), Clock: clock.System{}, IDs: ids.Random{}}, nil
}
