package identity

import (
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/ids"
)

// TestSessionHandlers drives the session routes through the edge with the in-memory store;
// the rotation rules themselves are checked against MongoDB by identitytest.
func TestSessionHandlers(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	svc, err := NewSessionService(SessionDeps{Users: f.store, Sessions: f.store, Keys: f.svc.Keys, Tokens: f.svc.Tokens,
		Events: LogSink{Log: slog.New(slog.DiscardHandler)}, Clock: f.clock, IDs: ids.Random{}})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := svc.Open(t.Context(), u, "192.0.2.1", "agent-1")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := svc.Open(t.Context(), u, "192.0.2.2", "agent-2")
	if err != nil {
		t.Fatal(err)
	}
	as := func(sessionID, body string, path map[string]string) events.APIGatewayV2HTTPRequest {
		ev := events.APIGatewayV2HTTPRequest{Body: body, PathParameters: path}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			Lambda: map[string]any{"tenant_id": tenantID, "user_id": u.ID, "session_id": sessionID, "role": "user"}}
		return ev
	}

	status, body, _ := serve(t, RefreshHandler(svc), events.APIGatewayV2HTTPRequest{Body: `{"refresh_token":"` + s1.RefreshToken + `"}`})
	if status != 200 || body["refresh_token"] == "" || body["refresh_token"] == s1.RefreshToken || body["token_type"] != "Bearer" {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if status, body, _ := serve(t, RefreshHandler(svc), events.APIGatewayV2HTTPRequest{Body: `{}`}); status != 400 || body["code"] != "missing_field" {
		t.Fatalf("refresh without a token: %d %v", status, body)
	}
	if status, body, _ := serve(t, RefreshHandler(svc), events.APIGatewayV2HTTPRequest{Body: `{"refresh_token":"x"}`}); status != 401 || body["code"] != "invalid_refresh_token" {
		t.Fatalf("refresh with a bad token: %d %v", status, body)
	}

	status, body, _ = serve(t, ListSessionsHandler(svc), as(s1.SessionID, "", nil))
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 2 {
		t.Fatalf("list: %d %v", status, body)
	}
	current := 0
	for _, it := range items {
		m := it.(map[string]any)
		if m["current"] == true {
			current++
			if m["id"] != s1.SessionID || m["ip"] != "192.0.2.1" || m["user_agent"] != "agent-1" {
				t.Fatalf("current item %v", m)
			}
		}
	}
	if current != 1 {
		t.Fatalf("%d current items, want 1", current)
	}

	if status, body, _ := serve(t, EndSessionHandler(svc), as(s1.SessionID, "", map[string]string{"id": "ses_nope"})); status != 404 || body["code"] != "session_not_found" {
		t.Fatalf("end unknown: %d %v", status, body)
	}
	if status, _, raw := serve(t, EndSessionHandler(svc), as(s1.SessionID, "", map[string]string{"id": s2.SessionID})); status != 204 || raw != "" {
		t.Fatalf("end: %d %q", status, raw)
	}
	if status, _, _ := serve(t, LogoutHandler(svc), as(s1.SessionID, "", nil)); status != 204 {
		t.Fatalf("logout: %d", status)
	}
	if status, _, _ := serve(t, LogoutAllHandler(svc), as(s1.SessionID, "", nil)); status != 204 {
		t.Fatalf("logout-all: %d", status)
	}
	if status, body, _ := serve(t, ListSessionsHandler(svc), as(s1.SessionID, "", nil)); status != 200 || len(body["items"].([]any)) != 0 {
		t.Fatalf("list after logout: %d %v", status, body)
	}
	if status, _, _ := serve(t, LogoutHandler(svc), events.APIGatewayV2HTTPRequest{}); status != 401 {
		t.Fatalf("logout without identity: %d", status)
	}
}
