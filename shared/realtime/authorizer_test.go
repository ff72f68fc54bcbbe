package realtime_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/realtime"
)

type oneKey struct{ pub *rsa.PublicKey }

func (k oneKey) Lookup(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if kid != "key_test" {
		return nil, identity.ErrKeyNotFound
	}
	return k.pub, nil
}

// users knows one user; lookups fail when down.
type users struct {
	id   string
	down bool
}

func (u *users) CreateUser(context.Context, identity.User) error { return errors.New("read only") }
func (u *users) UserByEmail(context.Context, string, string) (identity.User, error) {
	return identity.User{}, identity.ErrUserNotFound
}

// SessionByID makes users a SessionReader too: every session is live and the user's.
func (u *users) SessionByID(_ context.Context, tenantID, sessionID string) (identity.Session, error) {
	if u.down {
		return identity.Session{}, errors.New("mongo down")
	}
	return identity.Session{ID: sessionID, TenantID: tenantID, UserID: u.id}, nil
}

func (u *users) UserByID(_ context.Context, tenantID, userID string) (identity.User, error) {
	if u.down {
		return identity.User{}, errors.New("mongo down")
	}
	if userID != u.id {
		return identity.User{}, identity.ErrUserNotFound
	}
	return identity.User{ID: userID, TenantID: tenantID}, nil
}

func TestAuthorizer(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(time.Now())
	cfg := identity.TokenConfig{Issuer: "caas-test", Audience: "caas", TTL: 15 * time.Minute}
	key := identity.SigningKey{ID: "key_test", Private: priv, Status: identity.KeyActive}
	iss := &identity.Issuer{Config: cfg, Clock: clk, IDs: ids.Random{}}
	tenant, user := ids.Make(ids.Tenant, time.Unix(1, 0), nil), ids.Make(ids.User, time.Unix(1, 0), nil)
	ghost := ids.Make(ids.User, time.Unix(2, 0), nil)
	session := ids.Make(ids.Session, time.Unix(1, 0), nil)
	token, _, err := iss.Issue(key, tenant, user, session, identity.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	ghostToken, _, _ := iss.Issue(key, tenant, ghost, session, identity.RoleUser)
	us := &users{id: user}
	a := &realtime.Authorizer{HTTP: &identity.Authorizer{
		Verifier: &identity.Verifier{Config: cfg, Keys: oneKey{&priv.PublicKey}, Clock: clk},
		Users:    us, Sessions: us, Clock: clk, Log: slog.New(slog.DiscardHandler),
	}}
	const arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/live/$connect"
	ask := func(query, protocols map[string]string) events.APIGatewayCustomAuthorizerResponse {
		t.Helper()
		resp, err := a.Handle(t.Context(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
			Type: "REQUEST", MethodArn: arn, QueryStringParameters: query, Headers: protocols})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.PolicyDocument.Statement) != 1 || resp.PolicyDocument.Version != "2012-10-17" ||
			resp.PolicyDocument.Statement[0].Resource[0] != arn || resp.PolicyDocument.Statement[0].Action[0] != "execute-api:Invoke" {
			t.Fatalf("policy %+v", resp.PolicyDocument)
		}
		return resp
	}
	allowed := func(r events.APIGatewayCustomAuthorizerResponse) bool {
		return r.PolicyDocument.Statement[0].Effect == "Allow"
	}

	for name, r := range map[string]events.APIGatewayCustomAuthorizerResponse{
		"query":       ask(map[string]string{"token": token}, nil),
		"subprotocol": ask(nil, map[string]string{"Sec-WebSocket-Protocol": "caas, " + token}),
	} {
		if !allowed(r) || r.PrincipalID != user || r.Context["tenant_id"] != tenant || r.Context["user_id"] != user ||
			r.Context["session_id"] != session || r.Context["role"] != identity.RoleUser {
			t.Errorf("%s: %+v", name, r)
		}
	}
	for name, r := range map[string]events.APIGatewayCustomAuthorizerResponse{
		"none":          ask(nil, nil),
		"tampered":      ask(map[string]string{"token": token + "x"}, nil),
		"wrong proto":   ask(nil, map[string]string{"Sec-WebSocket-Protocol": "chat, " + token}),
		"one proto":     ask(nil, map[string]string{"Sec-WebSocket-Protocol": token}),
		"deleted user":  ask(map[string]string{"token": ghostToken}, nil),
		"bearer prefix": ask(map[string]string{"token": "Bearer " + token}, nil),
	} {
		if allowed(r) || r.Context != nil {
			t.Errorf("%s was allowed: %+v", name, r)
		}
	}

	clk.Advance(16 * time.Minute)
	if allowed(ask(map[string]string{"token": token}, nil)) {
		t.Error("an expired token was allowed")
	}
}
