package identity

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestAuthorizer(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	tok, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{Verifier: f.verifier, Users: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
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
		resp.Context["session_id"] != tok.SessionID || resp.Context["role"] != "user" {
		t.Fatalf("valid token: %+v", resp)
	}
	if r := ask("bearer " + tok.AccessToken); !r.IsAuthorized {
		t.Fatal("the scheme is case-insensitive, but lower-case bearer was refused")
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + tok.AccessToken, tok.AccessToken,
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
