package identity

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// oneTenant accepts the API key "good" for tenantID.
type oneTenant struct{}

func (oneTenant) Authenticate(_ context.Context, key string) (string, error) {
	if key != "good" {
		return "", fault.New(fault.Unauthorized, "invalid_api_key", "bad key")
	}
	return tenantID, nil
}

func serve(t *testing.T, h edge.HandlerFunc, ev events.APIGatewayV2HTTPRequest) (int, map[string]any, string) {
	t.Helper()
	ev.RequestContext.RequestID = "req"
	resp, err := edge.HTTP(slog.New(slog.DiscardHandler), h)(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return resp.StatusCode, body, resp.Body
}

func TestHandlers(t *testing.T) {
	f := newFixture(t)
	reg := RegisterHandler(f.svc, oneTenant{})
	post := func(headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
		ev := events.APIGatewayV2HTTPRequest{Headers: headers, Body: body}
		ev.RequestContext.HTTP.SourceIP = "192.0.2.7"
		return ev
	}
	key := map[string]string{"x-api-key": "good"}
	regBody := `{"email":"ann@example.com","password":"correct horse battery","display_name":"Ann"}`

	status, body, _ := serve(t, reg, post(key, regBody))
	userID, _ := body["user_id"].(string)
	if status != 201 || userID == "" {
		t.Fatalf("register: %d %v", status, body)
	}
	registerCases := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		code    string
	}{
		{"again", key, regBody, 409, "email_taken"},
		{"no key", nil, regBody, 401, "invalid_api_key"},
		{"weak", key, `{"email":"b@example.com","password":"short","display_name":"B"}`, 400, "weak_password"},
		{"bad email", key, `{"email":"b","password":"correct horse battery","display_name":"B"}`, 400, "invalid_email"},
		{"no name", key, `{"email":"b@example.com","password":"correct horse battery"}`, 400, "missing_field"},
		{"unknown field", key, `{"email":"b@example.com","password":"correct horse battery","display_name":"B","x":1}`, 400, "unknown_field"},
		{"wrong type", key, `{"email":1,"password":"correct horse battery","display_name":"B"}`, 400, "wrong_type"},
	}
	for _, c := range registerCases {
		if status, body, _ := serve(t, reg, post(c.headers, c.body)); status != c.status || body["code"] != c.code {
			t.Errorf("register %s: %d %v, want %d %s", c.name, status, body, c.status, c.code)
		}
	}

	login := LoginHandler(f.svc)
	tid := map[string]string{"x-tenant-id": tenantID}
	status, body, _ = serve(t, login, post(tid, `{"email":"ann@example.com","password":"correct horse battery"}`))
	if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != float64(900) || body["access_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("login: %d %v", status, body)
	}
	_, _, wrongPw := serve(t, login, post(tid, `{"email":"ann@example.com","password":"wrong password!!"}`))
	_, _, unknown := serve(t, login, post(tid, `{"email":"bob@example.com","password":"correct horse battery"}`))
	if wrongPw != unknown {
		t.Fatalf("wrong password and unknown email answer differently:\n%s\n%s", wrongPw, unknown)
	}
	if status, body, _ := serve(t, login, post(nil, `{"email":"a@b.io","password":"x"}`)); status != 400 || body["code"] != "missing_field" {
		t.Fatalf("login without X-Tenant-ID: %d %v", status, body)
	}

	authed := func(path map[string]string, user string) events.APIGatewayV2HTTPRequest {
		ev := events.APIGatewayV2HTTPRequest{PathParameters: path}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			Lambda: map[string]any{"tenant_id": tenantID, "user_id": user, "session_id": sessionID, "role": "user"}}
		return ev
	}
	if status, body, _ := serve(t, MeHandler(f.svc), authed(nil, userID)); status != 200 || body["email"] != "ann@example.com" || body["id"] != userID {
		t.Fatalf("me: %d %v", status, body)
	}
	if status, _, _ := serve(t, MeHandler(f.svc), events.APIGatewayV2HTTPRequest{}); status != 401 {
		t.Fatalf("me without identity: %d", status)
	}
	status, body, _ = serve(t, GetUserHandler(f.svc), authed(map[string]string{"id": userID}, userID))
	if status != 200 || body["display_name"] != "Ann" || body["email"] != nil {
		t.Fatalf("get user: %d %v", status, body)
	}
	if status, body, _ := serve(t, GetUserHandler(f.svc), authed(map[string]string{"id": "usr_nope"}, userID)); status != 404 || body["code"] != "user_not_found" {
		t.Fatalf("get unknown user: %d %v", status, body)
	}

	find := FindUserHandler(f.svc, oneTenant{})
	q := func(email string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{Headers: key, QueryStringParameters: map[string]string{"email": email}}
	}
	if status, body, _ := serve(t, find, q("ANN@example.com")); status != 200 || body["id"] != userID {
		t.Fatalf("find: %d %v", status, body)
	}
	if status, _, _ := serve(t, find, q("zed@example.com")); status != 404 {
		t.Fatalf("find unknown: %d", status)
	}
	if status, body, _ := serve(t, find, q("")); status != 400 || body["code"] != "invalid_query" {
		t.Fatalf("find without email: %d %v", status, body)
	}
}
