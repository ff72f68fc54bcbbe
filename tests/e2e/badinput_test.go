package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Bad input "+suffix, w.bob.id)
	register := hdr{"X-Api-Key": w.a.apiKey}
	alice := bearer(w.alice.token)
	messages := "/v1/conversations/" + convID + "/messages"
	email := func(name string) string { return name + "." + suffix + "@example.test" }
	big := `{"client_msg_id":"big-1","body":"` + strings.Repeat("a", 70<<10) + `"}`

	cases := []struct {
		name         string
		method, path string
		h            hdr
		body         any
		status       int
		codes        []string
	}{
		{"malformed JSON", "POST", "/v1/auth/register", register, `{"email": "x@example.test",`, 400, []string{"malformed_json"}},
		{"not an object", "POST", "/v1/auth/register", register, `["email"]`, 400, []string{"wrong_type"}},
		{"wrong type", "POST", "/v1/auth/register", register,
			`{"email": 42, "password": "long enough password", "display_name": "X"}`, 400, []string{"wrong_type"}},
		{"unknown field", "POST", "/v1/auth/register", register,
			map[string]any{"email": email("unknown"), "password": "long enough password", "display_name": "X", "role": "admin"}, 400, []string{"unknown_field"}},
		{"missing field", "POST", "/v1/auth/register", register,
			map[string]any{"email": email("missing")}, 400, []string{"missing_field"}},
		{"empty body", "POST", "/v1/auth/register", register, "", 400, []string{"empty_body", "malformed_json"}},
		{"weak password", "POST", "/v1/auth/register", register,
			map[string]any{"email": email("weak"), "password": "short", "display_name": "X"}, 400, []string{"weak_password"}},
		{"login malformed JSON", "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id}, `{"email"`, 400, []string{"malformed_json"}},
		{"conversation wrong type", "POST", "/v1/conversations", alice,
			`{"type":"group","title":"T","members":"not a list"}`, 400, []string{"wrong_type"}},
		{"conversation unknown type", "POST", "/v1/conversations", alice,
			map[string]any{"type": "channel", "title": "T", "members": []string{w.bob.id}}, 400, nil},
		{"body over 64 KiB", "POST", messages, alice, big, 413, []string{"body_too_large"}},
		{"message unknown field", "POST", messages, alice, `{"client_msg_id":"u-1","body":"x","pin":true}`, 400, []string{"unknown_field"}},
		{"message missing client_msg_id", "POST", messages, alice, `{"body":"x"}`, 400, []string{"missing_field"}},
		{"empty message body", "POST", messages, alice, `{"client_msg_id":"e-1","body":""}`, 400, nil},
		{"blank message body", "POST", messages, alice, `{"client_msg_id":"e-2","body":" \n\t "}`, 400, nil},
		{"message over 4000 code points", "POST", messages, alice,
			map[string]string{"client_msg_id": "long-1", "body": strings.Repeat("é", 4001)}, 400, nil},
		{"invalid UTF-8", "POST", messages, alice, []byte("{\"client_msg_id\":\"utf-1\",\"body\":\"bad \xff\xfe bytes\"}"), 400, []string{"invalid_utf8"}},
		{"bad conversations cursor", "GET", "/v1/conversations?cursor=not-a-cursor!", alice, nil, 400, []string{"invalid_cursor"}},
		{"bad messages cursor", "GET", messages + "?cursor=AAAA", alice, nil, 400, []string{"invalid_cursor"}},
		{"limit zero", "GET", "/v1/conversations?limit=0", alice, nil, 400, []string{"invalid_query"}},
		{"limit not a number", "GET", messages + "?limit=ten", alice, nil, 400, []string{"invalid_query"}},
		{"limit over the maximum", "GET", messages + "?limit=100000", alice, nil, 400, []string{"invalid_query"}},
		{"after not a number", "GET", messages + "?after=x", alice, nil, 400, []string{"invalid_query"}},
		{"after and before together", "GET", messages + "?after=1&before=5", alice, nil, 400, nil},
		{"unknown route", "GET", "/v1/nothing-here", nil, nil, 404, []string{"route_not_found"}},
		{"unknown route outside /v1", "POST", "/nothing", nil, "{}", 404, []string{"route_not_found"}},
		{"wrong method", "DELETE", "/v1/conversations", alice, nil, 405, []string{"method_not_allowed"}},
		{"wrong method on messages", "PUT", messages, alice, "{}", 405, []string{"method_not_allowed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do(t, tc.method, tc.path, tc.h, tc.body)
			wantProblem(t, r, tc.status, tc.codes...)
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header: %s", r)
			}
		})
	}

	t.Run("codes are stable", func(t *testing.T) {
		// The same bad request twice gets the same code: clients branch on it.
		body := map[string]string{"client_msg_id": "long-2", "body": strings.Repeat("x", 4001)}
		a := c.do(t, "POST", messages, alice, body)
		b := c.do(t, "POST", messages, alice, body)
		if a.str("code") == "" || a.str("code") != b.str("code") {
			t.Errorf("codes %q and %q for the same request", a.str("code"), b.str("code"))
		}
	})

	t.Run("4000 code points is the limit, not 4000 bytes or graphemes", func(t *testing.T) {
		// 2000 letters each with a combining accent: 4000 code points, 2000 graphemes, 6000 bytes.
		body := strings.Repeat("e\u0301", 2000)
		r, err := sendMessage(c, w.alice, convID, "limit-1", body)
		if err != nil {
			t.Fatal(err)
		}
		if wantStatus(t, r, http.StatusCreated) && r.str("body") != body {
			t.Errorf("the 4000 code point body came back changed (%d bytes)", len(r.str("body")))
		}
	})
}

func TestGateway(t *testing.T) {
	w := getWorld(t)
	c := api()
	tok := w.alice.token

	t.Run("no Authorization header is the gateway's 401", func(t *testing.T) {
		wantGateway(t, c.do(t, "GET", "/v1/users/me", nil, nil), http.StatusUnauthorized, "Unauthorized")
		wantGateway(t, c.do(t, "POST", "/v1/conversations", nil, "{}"), http.StatusUnauthorized, "Unauthorized")
	})
	for _, tc := range []struct {
		name, value string
	}{
		{"garbage token", "Bearer garbage"},
		{"tampered signature", "Bearer " + tamper(tok, len(tok)-5)},
		{"tampered claims", "Bearer " + tamper(tok, strings.Index(tok, ".")+5)},
		{"no Bearer scheme", tok},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name+" is the authorizer's 403", func(t *testing.T) {
			r := c.do(t, "GET", "/v1/users/me", hdr{"Authorization": tc.value}, nil)
			if tc.name == "empty bearer" && r.status == http.StatusUnauthorized {
				// API Gateway may treat a blank identity source as missing.
				wantGateway(t, r, http.StatusUnauthorized, "Unauthorized")
				return
			}
			wantGateway(t, r, http.StatusForbidden, "Forbidden")
		})
	}
	t.Run("CORS preflight", func(t *testing.T) {
		r := c.do(t, "OPTIONS", "/v1/conversations", hdr{
			"Origin":                         "https://app.example.test",
			"Access-Control-Request-Method":  "POST",
			"Access-Control-Request-Headers": "authorization,content-type",
		}, nil)
		if r.status != http.StatusNoContent {
			t.Errorf("want 204: %s", r)
		}
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
			if r.header.Get(h) == "" {
				t.Errorf("preflight answer lacks %s: %v", h, r.header)
			}
		}
		if m := r.header.Get("Access-Control-Allow-Methods"); !strings.Contains(strings.ToUpper(m), "POST") {
			t.Errorf("Access-Control-Allow-Methods %q lacks POST", m)
		}
		if h := r.header.Get("Access-Control-Allow-Headers"); !strings.Contains(strings.ToLower(h), "authorization") {
			t.Errorf("Access-Control-Allow-Headers %q lacks authorization", h)
		}
	})
	t.Run("answers carry the allowed origin", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users/me", hdr{"Authorization": "Bearer " + tok, "Origin": "https://app.example.test"}, nil)
		if wantStatus(t, r, http.StatusOK) && r.header.Get("Access-Control-Allow-Origin") == "" {
			t.Errorf("a cross-origin answer lacks Access-Control-Allow-Origin: %v", r.header)
		}
	})
	t.Run("every answer has a request id", func(t *testing.T) {
		r := c.do(t, "GET", "/health", nil, nil)
		if r.header.Get("Apigw-Requestid") == "" {
			t.Errorf("no apigw-requestid header: %v", r.header)
		}
	})
}

// tamper changes the character at i of a JWT to another base64url character.
func tamper(token string, i int) string {
	if i < 0 || i >= len(token) {
		return token + "x"
	}
	b := []byte(token)
	switch b[i] {
	case 'A':
		b[i] = 'B'
	case '.':
		return tamper(token, i+1)
	default:
		b[i] = 'A'
	}
	return fmt.Sprint(string(b))
}
