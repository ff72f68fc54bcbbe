package identity_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/tenant"
)

// openClient opens a migrated client on databases with a unique prefix, dropped at the end.
func openClient(t *testing.T) *mongo.Client {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), "r"+hex.EncodeToString(b)+"_")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Drop(ctx)
		_ = c.Close(ctx)
	})
	return c
}

// fastArgon2 keeps registration cheap in tests.
var fastArgon2 = identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

type roleWorld struct {
	users   *identity.Service
	tenants *tenant.Service
	client  *mongo.Client
}

func newRoleWorld(t *testing.T) roleWorld {
	c := openClient(t)
	users, err := identity.NewService(identity.Deps{Users: c.Users(), Argon2: fastArgon2, Clock: clock.System{}, IDs: ids.Random{}})
	if err != nil {
		t.Fatal(err)
	}
	return roleWorld{users: users, tenants: &tenant.Service{Store: c.Tenants(), Clock: clock.System{}, IDs: ids.Random{}}, client: c}
}

func (w roleWorld) tenant(t *testing.T, name string) (id, key string) {
	t.Helper()
	tn, key, err := w.tenants.Create(t.Context(), name, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID, key
}

func (w roleWorld) user(t *testing.T, tenantID, email string) identity.User {
	t.Helper()
	u, err := w.users.Register(t.Context(), identity.RegisterInput{TenantID: tenantID, Email: email,
		Password: "correct horse battery staple", DisplayName: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// The authorizer takes a tenant's API key (without a Bearer token) as the tenant's admin, and
// refuses a wrong key with ErrUnauthorized, the gateway's 401, against the real tenant store.
func TestAuthorizerAPIKey(t *testing.T) {
	w := newRoleWorld(t)
	tenantID, key := w.tenant(t, "acme")
	_, otherKey := w.tenant(t, "globex")
	a := &identity.Authorizer{Users: w.client.Users(), Sessions: w.client.Sessions(), Tenants: w.tenants,
		Clock: clock.System{}, Log: slog.New(slog.DiscardHandler)}
	ask := func(h map[string]string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		return a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", Headers: h})
	}

	for _, h := range []map[string]string{{"x-api-key": key}, {"X-Api-Key": key}} {
		resp, err := ask(h)
		if err != nil || !resp.IsAuthorized || resp.Context[edge.ContextTenantID] != tenantID ||
			resp.Context[edge.ContextRole] != identity.RoleAdmin || resp.Context[edge.ContextActor] != edge.ActorAPIKey ||
			resp.Context[edge.ContextUserID] != "" || resp.Context[edge.ContextSessionID] != "" {
			t.Fatalf("valid key %v: %+v, %v", h, resp, err)
		}
	}
	if resp, err := ask(map[string]string{"x-api-key": otherKey}); err != nil || resp.Context[edge.ContextTenantID] == tenantID {
		t.Fatalf("another tenant's key: %+v, %v", resp, err)
	}
	for name, bad := range map[string]string{
		"wrong secret":                       key[:len(key)-2] + "xx",
		"garbage":                            "caas_sk_nope",
		"other tenant's id with this secret": otherKey[:len(otherKey)-43] + key[len(key)-43:],
	} {
		resp, err := ask(map[string]string{"x-api-key": bad})
		if !errors.Is(err, identity.ErrUnauthorized) || resp.IsAuthorized || resp.Context != nil {
			t.Errorf("%s: %+v, %v; want ErrUnauthorized", name, resp, err)
		}
	}
	// A Bearer header that is not a valid token is judged as a token (403), not as the key.
	if resp, err := a.Authorize(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{
		"authorization": "Basic abc", "x-api-key": key}}); err != nil || !resp.IsAuthorized {
		t.Errorf("a non-Bearer Authorization with a valid key: %+v, %v; want the key's answer", resp, err)
	}

	noTenants := &identity.Authorizer{Users: w.client.Users(), Sessions: w.client.Sessions(),
		Clock: clock.System{}, Log: slog.New(slog.DiscardHandler)}
	if resp, err := noTenants.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{
		Headers: map[string]string{"x-api-key": key}}); !errors.Is(err, identity.ErrUnauthorized) || resp.IsAuthorized {
		t.Errorf("an authorizer without tenants took a key: %+v, %v", resp, err)
	}
}

// SetRole: the API key and admin users may change roles in their tenant only; an ordinary user
// may not; a demoted admin loses the right at once; invalid roles are refused.
func TestSetRole(t *testing.T) {
	w := newRoleWorld(t)
	tenantID, _ := w.tenant(t, "acme")
	otherTenant, _ := w.tenant(t, "globex")
	ann := w.user(t, tenantID, "ann@example.com")
	bob := w.user(t, tenantID, "bob@example.com")
	eve := w.user(t, otherTenant, "eve@example.com")
	if ann.Role != identity.RoleUser {
		t.Fatalf("a new user's role is %q", ann.Role)
	}
	key := edge.Identity{TenantID: tenantID, Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	asUser := func(u identity.User, role string) edge.Identity {
		return edge.Identity{TenantID: u.TenantID, UserID: u.ID, SessionID: "ses_x", Role: role, Actor: edge.ActorUser}
	}
	ctx := t.Context()

	// An ordinary user may not, even claiming admin in its token.
	if _, err := w.users.SetRole(ctx, asUser(bob, identity.RoleAdmin), ann.ID, identity.RoleAdmin); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("a user set a role: %v", err)
	}
	ch, err := w.users.SetRole(ctx, key, ann.ID, identity.RoleAdmin)
	if err != nil || ch.OldRole != identity.RoleUser || ch.NewRole != identity.RoleAdmin {
		t.Fatalf("API key promotes: %+v, %v", ch, err)
	}
	if u, err := w.users.User(ctx, tenantID, ann.ID); err != nil || u.Role != identity.RoleAdmin {
		t.Fatalf("after promotion: %+v, %v", u, err)
	}
	// The admin user may now, in its own tenant only, once the authorizer hands on admin.
	if _, err := w.users.SetRole(ctx, asUser(ann, identity.RoleUser), bob.ID, identity.RoleAdmin); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("an admin the authorizer still saw as user set a role: %v", err)
	}
	if _, err := w.users.SetRole(ctx, asUser(ann, identity.RoleAdmin), bob.ID, identity.RoleAdmin); err != nil {
		t.Fatalf("an admin user set a role: %v", err)
	}
	if _, err := w.users.SetRole(ctx, asUser(ann, identity.RoleAdmin), eve.ID, identity.RoleAdmin); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("another tenant's user: %v; want ErrUserNotFound", err)
	}
	for _, role := range []string{"", "root", "Admin", "admin "} {
		if _, err := w.users.SetRole(ctx, key, bob.ID, role); !errors.Is(err, identity.ErrInvalidRole) {
			t.Errorf("role %q: %v; want ErrInvalidRole", role, err)
		}
	}
	if _, err := w.users.SetRole(ctx, key, "usr_nope", identity.RoleUser); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("malformed id: %v", err)
	}
	// An admin demotes themselves, then may no longer change roles.
	if _, err := w.users.SetRole(ctx, asUser(ann, identity.RoleAdmin), ann.ID, identity.RoleUser); err != nil {
		t.Fatalf("self-demotion: %v", err)
	}
	if _, err := w.users.SetRole(ctx, asUser(ann, identity.RoleAdmin), bob.ID, identity.RoleUser); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("a demoted admin still sets roles: %v", err)
	}
	// Another tenant's API key sees no user of this tenant.
	otherKey := edge.Identity{TenantID: otherTenant, Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	if _, err := w.users.SetRole(ctx, otherKey, bob.ID, identity.RoleUser); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("another tenant's key: %v", err)
	}
	if u, _ := w.users.User(ctx, tenantID, bob.ID); u.Role != identity.RoleAdmin {
		t.Fatalf("bob's role changed by another tenant: %q", u.Role)
	}
}
