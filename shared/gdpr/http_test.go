package gdpr_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
)

// call runs h as the edge would for caller, with the given headers, query and body.
func call(t *testing.T, h edge.HandlerFunc, caller edge.Identity, method, path string, hdrs, query, params map[string]string, body string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{RawPath: path, Headers: hdrs, QueryStringParameters: query,
		PathParameters: params, Body: body}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.RequestID = "req-1"
	ctx := edge.WithCaller(t.Context(), caller)
	resp, err := h(ctx, &edge.Request{APIGatewayV2HTTPRequest: ev})
	if err != nil {
		resp = edge.ProblemFor(err, "req-1")
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatalf("%s %s: body %q: %v", method, path, resp.Body, err)
	}
	return resp.StatusCode, out
}

func TestHandlers(t *testing.T) {
	f := newFixture(t)
	h := gdpr.NewHandlers(f.svc)
	const grant = `{"purpose":"marketing","policy_version":"1","granted":true}`

	status, body := call(t, h.RecordConsent, f.ann, "POST", "/v1/gdpr/consents", map[string]string{"idempotency-key": "a"}, nil, nil, grant)
	if status != http.StatusCreated || body["user_id"] != f.ann.UserID || body["recorded_at"] != "2026-05-01T12:00:00.000Z" {
		t.Fatalf("first POST: %d %v", status, body)
	}
	status, again := call(t, h.RecordConsent, f.ann, "POST", "/v1/gdpr/consents", map[string]string{"Idempotency-Key": "a"}, nil, nil, grant)
	if status != http.StatusOK || again["id"] != body["id"] {
		t.Errorf("retried POST: %d %v, want 200 with %v", status, again, body["id"])
	}
	status, p := call(t, h.RecordConsent, f.ann, "POST", "/v1/gdpr/consents", map[string]string{"Idempotency-Key": ""}, nil, nil, grant)
	if status != http.StatusBadRequest || p["code"] != "invalid_idempotency_key" {
		t.Errorf("empty key: %d %v", status, p)
	}
	status, p = call(t, h.RecordConsent, f.ann, "POST", "/v1/gdpr/consents", nil, nil, nil, `{"purpose":"m","policy_version":"1","granted":"yes"}`)
	if status != http.StatusBadRequest || p["code"] != "wrong_type" {
		t.Errorf("granted as a string: %d %v", status, p)
	}

	status, list := call(t, h.ListConsents, f.apiKey, "GET", "/v1/gdpr/consents", nil, map[string]string{"user_id": f.ann.UserID}, nil, "")
	cur, _ := list["current"].(map[string]any)
	if status != http.StatusOK || len(list["items"].([]any)) != 1 || cur["marketing"] == nil || list["next_cursor"] != "" {
		t.Errorf("list: %d %v", status, list)
	}
	status, p = call(t, h.ListConsents, f.ann, "GET", "/v1/gdpr/consents", nil, map[string]string{"limit": "0"}, nil, "")
	if status != http.StatusBadRequest || p["code"] != "invalid_query" {
		t.Errorf("limit 0: %d %v", status, p)
	}

	status, prof := call(t, h.Rectify, f.apiKey, "PATCH", "/v1/gdpr/users/"+f.bob.UserID, nil, nil,
		map[string]string{"id": f.bob.UserID}, `{"display_name":"Robert"}`)
	if status != http.StatusOK || prof["display_name"] != "Robert" || prof["email"] != "bob@example.com" || prof["role"] != "user" {
		t.Errorf("rectify: %d %v", status, prof)
	}
	if n := len(f.changes.changes); n != 1 || f.changes.changes[0].RequestID != "req-1" || f.changes.changes[0].Actor != "api_key" {
		t.Errorf("changes = %+v", f.changes.changes)
	}
	status, p = call(t, h.Rectify, f.apiKey, "PATCH", "/v1/gdpr/users/x", nil, nil, map[string]string{"id": "x"}, `{"password":"x"}`)
	if status != http.StatusBadRequest || p["code"] != "unknown_field" {
		t.Errorf("unknown field: %d %v", status, p)
	}
}
