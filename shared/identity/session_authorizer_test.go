package identity

import (
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// An ended session's access tokens are refused by the authorizer once its cached answer
// (DefaultUserTTL) expires, long before the tokens do; a session the store does not know, or
// one without a session store, is never authorized.
func TestAuthorizerRefusesEndedSession(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	tok, err := f.svc.openSession(t.Context(), u, LoginInput{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.svc.openSession(t.Context(), u, LoginInput{IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authorizer{Verifier: f.verifier, Users: f.store, Sessions: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	ask := func(token string) bool {
		t.Helper()
		resp, err := a.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{Headers: map[string]string{"authorization": "Bearer " + token}})
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		return resp.IsAuthorized
	}
	if !ask(tok.AccessToken) || !ask(other.AccessToken) {
		t.Fatal("live sessions refused")
	}
	if ok, err := f.store.EndSession(t.Context(), tenantID, u.ID, tok.SessionID, f.clock.Now()); !ok || err != nil {
		t.Fatalf("EndSession = %v, %v", ok, err)
	}
	f.clock.Advance(DefaultUserTTL + time.Second)
	if ask(tok.AccessToken) {
		t.Fatal("an ended session's access token is still authorized after the cache expired")
	}
	if !ask(other.AccessToken) {
		t.Fatal("ending one session refused another")
	}

	// A token whose session the store never had.
	f.store.mu.Lock()
	delete(f.store.sessions, other.SessionID)
	f.store.mu.Unlock()
	f.clock.Advance(DefaultUserTTL + time.Second)
	if ask(other.AccessToken) {
		t.Fatal("a token of an unknown session is authorized")
	}

	noSessions := &Authorizer{Verifier: f.verifier, Users: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	if resp, err := noSessions.Handle(t.Context(), events.APIGatewayV2CustomAuthorizerV2Request{
		Headers: map[string]string{"authorization": "Bearer " + tok.AccessToken}}); err == nil || resp.IsAuthorized {
		t.Fatal("an authorizer without a session store did not fail")
	}
}
