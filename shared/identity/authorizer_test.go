package identity

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"caas.dev/shared/ids"
)

func TestAuthorizer(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	tok, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{Verifier: f.verifier, Users: f.store, Sessions: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	ask := func(header string) events.APIGatewayV2CustomAuthorizerSimpleResponse {
		t.Helper()
		req := events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", Headers: map[string]string{"authorization": header}}
		resp, err := a.Handle(t.Context(), req)
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return resp
	}

	resp := ask("Bearer " + tok.AccessToken)
	if !resp.IsAuthorized || resp.Context["tenant_id"] != tenantID || resp.Context["user_id"] != u.ID ||
		resp.Context["session_id"] != tok.SessionID || resp.Context["role"] != "user" || resp.Context["actor"] != "user" {
		t.Fatalf("valid token: %+v", resp)
	}
	if r := ask("bearer " + tok.AccessToken); !r.IsAuthorized {
		t.Fatal("the scheme is case-insensitive, but lower-case bearer was refused")
	}
	if r, err := a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{}}); !errors.Is(err, ErrUnauthorized) || r.IsAuthorized {
		t.Errorf("no credentials: %+v, %v; want ErrUnauthorized (the gateway's 401)", r, err)
	}
	if r, err := a.Authorize(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{}); err != nil || r.IsAuthorized {
		t.Errorf("Authorize without credentials: %+v, %v; want a plain refusal", r, err)
	}
	for _, h := range []string{"Bearer", "Bearer ", "Basic " + tok.AccessToken, tok.AccessToken,
		"Bearer " + tok.AccessToken + "x", "Bearer " + tok.AccessToken + " extra"} {
		if r := ask(h); r.IsAuthorized || r.Context != nil {
			t.Errorf("header %.20q... was authorized: %+v", h, r)
		}
	}

	// The user is deleted: the cached answer holds for UserTTL, then access ends.
	f.store.mu.Lock()
	delete(f.store.users, u.ID)
	f.store.mu.Unlock()
	if r := ask("Bearer " + tok.AccessToken); !r.IsAuthorized {
		t.Fatal("the cached user was not used")
	}
	f.clock.Advance(DefaultUserTTL + time.Second)
	if r := ask("Bearer " + tok.AccessToken); r.IsAuthorized {
		t.Fatal("a deleted user is still authorized after the cache expired")
	}

	// A failing store is an error (API Gateway answers 500), not a denial.
	f.store.fail = errors.New("store down")
	f.clock.Advance(time.Minute)
	if _, err := a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{
		Headers: map[string]string{"Authorization": "Bearer " + tok.AccessToken}}); err == nil {
		t.Fatal("a failing user store did not make Handle fail")
	}
}

// TestAuthorizerRefusals checks, at the authorizer, each kind of token it must refuse: each
// case differs from an accepted baseline token in one respect only.
func TestAuthorizerRefusals(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	login, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	gone := f.register(t, tenantID, "gone@example.com")
	goneLogin, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: gone.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	f.store.mu.Lock()
	delete(f.store.users, gone.ID)
	f.store.mu.Unlock()

	a := &Authorizer{Verifier: f.verifier, Users: f.store, Sessions: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	authorized := func(tok string) bool {
		t.Helper()
		resp, err := a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{
			Type: "REQUEST", Headers: map[string]string{"authorization": "Bearer " + tok}})
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return resp.IsAuthorized
	}
	now := f.clock.Now()
	claims := func(change map[string]any) jwt.MapClaims {
		c := jwt.MapClaims{
			"iss": tokenCfg.Issuer, "aud": tokenCfg.Audience, "sub": u.ID, "tid": tenantID, "sid": login.SessionID,
			"role": RoleUser, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "jti_1",
		}
		for k, v := range change {
			c[k] = v
		}
		return c
	}
	baseline := sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(nil))
	if !authorized(baseline) {
		t.Fatal("the baseline token is refused: every case below would pass for the wrong reason")
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	otherTenant := ids.Make(ids.Tenant, time.Unix(2, 0), nil)

	cases := map[string]string{
		"alg none":                 sign(t, jwt.SigningMethodNone, "key_test", jwt.UnsafeAllowNoneSignatureType, claims(nil)),
		"HS256 keyed with the PEM": sign(t, jwt.SigningMethodHS256, "key_test", pubPEM, claims(nil)),
		"HS256 keyed with the DER": sign(t, jwt.SigningMethodHS256, "key_test", pubDER, claims(nil)),
		"wrong kid":                sign(t, jwt.SigningMethodRS256, "key_unknown", testKey, claims(nil)),
		"expired":                  sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(map[string]any{"exp": now.Add(-time.Minute).Unix()})),
		"not yet valid":            sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(map[string]any{"nbf": now.Add(time.Minute).Unix()})),
		"wrong issuer":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(map[string]any{"iss": "https://evil.example"})),
		"wrong audience":           sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(map[string]any{"aud": "other"})),
		"another tenant":           sign(t, jwt.SigningMethodRS256, "key_test", testKey, claims(map[string]any{"tid": otherTenant})),
		"deleted user": sign(t, jwt.SigningMethodRS256, "key_test", testKey,
			claims(map[string]any{"sub": gone.ID, "sid": goneLogin.SessionID})),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if authorized(tok) {
				t.Fatal("authorized")
			}
		})
	}
}

// The role the authorizer hands on is the user's current one from the store, not the token's
// claim: a promotion or demotion shows within DefaultUserTTL without a new token; new tokens
// carry the role at issue time.
func TestAuthorizerUsesCurrentRole(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	tok, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{Verifier: f.verifier, Users: f.store, Sessions: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	role := func(token string) any {
		t.Helper()
		resp, err := a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{"authorization": "Bearer " + token}})
		if err != nil || !resp.IsAuthorized {
			t.Fatalf("Handle: %+v, %v", resp, err)
		}
		return resp.Context["role"]
	}
	setRole := func(r string) {
		f.store.mu.Lock()
		x := f.store.users[u.ID]
		x.Role = r
		f.store.users[u.ID] = x
		f.store.mu.Unlock()
	}
	if r := role(tok.AccessToken); r != RoleUser {
		t.Fatalf("role %v, want user", r)
	}
	setRole(RoleAdmin)
	f.clock.Advance(DefaultUserTTL + time.Second)
	if r := role(tok.AccessToken); r != RoleAdmin {
		t.Fatalf("after promotion: role %v, want admin from the store", r)
	}
	again, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.verifier.Verify(t.Context(), again.AccessToken)
	if err != nil || claims.Role != RoleAdmin {
		t.Fatalf("a new token's role claim: %+v, %v; want admin", claims, err)
	}
	setRole("")
	f.clock.Advance(DefaultUserTTL + time.Second)
	if r := role(again.AccessToken); r != RoleUser {
		t.Fatalf("after demotion (no stored role): role %v, want user despite the admin claim", r)
	}
}
