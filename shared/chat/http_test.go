package chat_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
)

// call runs h behind the real edge with an event as API Gateway builds it.
func call(t *testing.T, h edge.HandlerFunc, tenantID, userID, body string, path, query map[string]string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Body: body, PathParameters: path, QueryStringParameters: query,
		Headers: map[string]string{"content-type": "application/json"},
	}
	ev.RequestContext.RequestID = "req-1"
	if userID != "" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			Lambda: map[string]any{"tenant_id": tenantID, "user_id": userID, "session_id": "ses_1", "role": "member"},
		}
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	resp, err := edge.HTTP(logger, h)(context.Background(), ev)
	if err != nil {
		t.Fatalf("edge returned an error: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatalf("response is not a JSON object: %q", resp.Body)
	}
	return resp.StatusCode, out
}

func TestHandlersContract(t *testing.T) {
	f := newFixture(t)
	h := chat.NewHandlers(f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{}))
	none := map[string]string(nil)

	status, conv := call(t, h.CreateConversation, "ten_a", f.alice,
		`{"type":"group","title":"Team","members":["`+f.bob+`"]}`, none, none)
	if status != 201 {
		t.Fatalf("create group = %d %v", status, conv)
	}
	for _, k := range []string{"id", "type", "title", "members", "created_by", "created_at"} {
		if _, ok := conv[k]; !ok {
			t.Errorf("conversation lacks %q: %v", k, conv)
		}
	}
	convID := conv["id"].(string)
	path := map[string]string{"id": convID}
	direct := `{"type":"direct","members":["` + f.bob + `"]}`
	if s, _ := call(t, h.CreateConversation, "ten_a", f.alice, direct, none, none); s != 201 {
		t.Errorf("first direct open = %d, want 201", s)
	}
	if s, _ := call(t, h.CreateConversation, "ten_a", f.bob, `{"type":"direct","members":["`+f.alice+`"]}`, none, none); s != 200 {
		t.Errorf("second direct open = %d, want 200", s)
	}

	status, msg := call(t, h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"m-1","body":"héllo 👋"}`, path, none)
	if status != 201 || msg["body"] != "héllo 👋" || msg["seq"] != 1.0 || msg["sender_id"] != f.bob || msg["conversation_id"] != convID {
		t.Fatalf("send = %d %v", status, msg)
	}
	if ts, _ := msg["created_at"].(string); len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
		t.Errorf("created_at %q is not RFC 3339 UTC with milliseconds", ts)
	}
	if s, again := call(t, h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"m-1","body":"héllo 👋"}`, path, none); s != 200 || again["id"] != msg["id"] {
		t.Errorf("repeat send = %d %v, want 200 with the first message", s, again)
	}

	problems := []struct {
		name       string
		h          edge.HandlerFunc
		tenant     string
		user, body string
		path       map[string]string
		query      map[string]string
		status     int
		code       string
	}{
		{"no identity", h.SendMessage, "", "", `{"client_msg_id":"a","body":"b"}`, path, none, 401, "unauthorized"},
		{"reused id, other body", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"m-1","body":"other"}`, path, none, 409, "idempotency_conflict"},
		{"non-member sends", h.SendMessage, "ten_b", f.mallet, `{"client_msg_id":"a","body":"b"}`, path, none, 404, "conversation_not_found"},
		{"non-member reads", h.ListMessages, "ten_b", f.mallet, "", path, none, 404, "conversation_not_found"},
		{"empty body", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"a","body":""}`, path, none, 400, "missing_field"},
		{"blank body", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"a","body":"  \n "}`, path, none, 400, "invalid_field"},
		{"body too long", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"a","body":"` + strings.Repeat("x", 4001) + `"}`, path, none, 400, "invalid_field"},
		{"unknown field", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":"a","body":"b","x":1}`, path, none, 400, "unknown_field"},
		{"wrong type", h.SendMessage, "ten_a", f.bob, `{"client_msg_id":1,"body":"b"}`, path, none, 400, "wrong_type"},
		{"unknown members", h.CreateConversation, "ten_a", f.alice, `{"type":"direct","members":["` + f.mallet + `"]}`, none, none, 400, "unknown_members"},
		{"after and before", h.ListMessages, "ten_a", f.bob, "", path, map[string]string{"after": "1", "before": "3"}, 400, "invalid_query"},
		{"bad after", h.ListMessages, "ten_a", f.bob, "", path, map[string]string{"after": "x"}, 400, "invalid_query"},
		{"bad message cursor", h.ListMessages, "ten_a", f.bob, "", path, map[string]string{"cursor": "zz"}, 400, "invalid_cursor"},
		{"bad conversation cursor", h.ListConversations, "ten_a", f.bob, "", none, map[string]string{"cursor": "zz"}, 400, "invalid_cursor"},
		{"conversation limit over max", h.ListConversations, "ten_a", f.bob, "", none, map[string]string{"limit": "101"}, 400, "invalid_query"},
	}
	for _, p := range problems {
		status, body := call(t, p.h, p.tenant, p.user, p.body, p.path, p.query)
		if status != p.status || body["code"] != p.code {
			t.Errorf("%s: %d %v, want %d with code %s", p.name, status, body["code"], p.status, p.code)
		}
	}

	status, page := call(t, h.ListConversations, "ten_a", f.bob, "", none, map[string]string{"limit": "1"})
	items, _ := page["items"].([]any)
	if status != 200 || len(items) != 1 || page["next_cursor"] == "" {
		t.Errorf("list conversations limit 1 = %d %v, want one item and a cursor", status, page)
	}
	// Bob sent the one message: alice has it unread, bob has read his own.
	group := listed(t, h, f.alice, convID)
	if group["last_seq"] != 1.0 || group["unread_count"] != 1.0 || group["last_message_at"] != msg["created_at"] {
		t.Errorf("alice's group item = %v, want last_seq 1, unread_count 1, last_message_at %v", group, msg["created_at"])
	}
	if bobs := listed(t, h, f.bob, convID); bobs["unread_count"] != 0.0 || bobs["last_seq"] != 1.0 {
		t.Errorf("bob's group item = %v, want last_seq 1, unread_count 0", bobs)
	}
	status, page = call(t, h.ListMessages, "ten_a", f.alice, "", path, none)
	items, _ = page["items"].([]any)
	if status != 200 || len(items) != 1 || page["next_cursor"] != "" {
		t.Errorf("list messages = %d %v, want the one message and no cursor", status, page)
	}
	if group := listed(t, h, f.alice, convID); group["unread_count"] != 0.0 || group["last_seq"] != 1.0 {
		t.Errorf("alice's group item after reading = %v, want unread_count 0", group)
	}
	_, page = call(t, h.ListConversations, "ten_a", f.alice, "", none, none)
	items, _ = page["items"].([]any)
	for _, it := range items {
		c := it.(map[string]any)
		if c["id"] == convID {
			continue
		}
		if _, ok := c["last_message_at"]; ok || c["last_seq"] != 0.0 || c["unread_count"] != 0.0 {
			t.Errorf("conversation without messages listed as %v, want last_seq 0, unread_count 0, no last_message_at", c)
		}
	}
}

// listed returns the item of conversation convID in userID's conversation list.
func listed(t *testing.T, h *chat.Handlers, userID, convID string) map[string]any {
	t.Helper()
	status, page := call(t, h.ListConversations, "ten_a", userID, "", nil, nil)
	items, _ := page["items"].([]any)
	for _, it := range items {
		if c, _ := it.(map[string]any); c["id"] == convID {
			return c
		}
	}
	t.Fatalf("conversation %s not in %s's list (%d): %v", convID, userID, status, page)
	return nil
}

// postConversation runs POST /v1/conversations behind the real edge for alice of ten_a, with
// the Idempotency-Key header when key is not nil.
func postConversation(t *testing.T, h edge.HandlerFunc, userID string, key *string, body string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{
		Body: body, RawPath: "/v1/conversations", RouteKey: "POST /v1/conversations",
		Headers: map[string]string{"content-type": "application/json"},
	}
	if key != nil {
		ev.Headers["idempotency-key"] = *key
	}
	ev.RequestContext.RequestID = "req-1"
	ev.RequestContext.HTTP.Method = "POST"
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		Lambda: map[string]any{"tenant_id": "ten_a", "user_id": userID, "session_id": "ses_1", "role": "member"},
	}
	resp, err := edge.HTTP(slog.New(slog.DiscardHandler), h)(context.Background(), ev)
	if err != nil {
		t.Fatalf("edge returned an error: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatalf("response is not a JSON object: %q", resp.Body)
	}
	return resp.StatusCode, out
}

func TestCreateConversationIdempotencyKey(t *testing.T) {
	f := newFixture(t)
	h := chat.NewHandlers(f.service(newPublisher(t, deadBroker(t)), clock.System{})).CreateConversation
	group := `{"type":"group","title":"Team","members":["` + f.bob + `"]}`

	for _, bad := range []string{"", strings.Repeat("k", 256), "caf\u00e9", "tab\there", "nul\x00", "del\x7f", "line\nfeed"} {
		if status, body := postConversation(t, h, f.alice, &bad, group); status != 400 || body["code"] != "invalid_idempotency_key" {
			t.Errorf("key %q: %d %v, want 400 invalid_idempotency_key", bad, status, body["code"])
		}
	}
	if status, body := postConversation(t, h, f.alice, nil, group); status != 201 {
		t.Errorf("no key: %d %v, want 201", status, body)
	}

	key := "retry me: 01 ~!" + strings.Repeat("k", 240)
	status, first := postConversation(t, h, f.alice, &key, group)
	if status != 201 {
		t.Fatalf("first create with a key: %d %v", status, first)
	}
	// The same request, spelled with other white space, answers as the first did.
	status, again := postConversation(t, h, f.alice, &key, ` { "members" : ["`+f.bob+`"], "title":"Team", "type":"group" }`)
	if status != 201 || again["id"] != first["id"] || again["created_at"] != first["created_at"] {
		t.Errorf("repeat: %d %v, want 201 with %v", status, again, first["id"])
	}
	if status, body := postConversation(t, h, f.alice, &key, `{"type":"group","title":"Other","members":["`+f.bob+`"]}`); status != 409 || body["code"] != "idempotency_conflict" {
		t.Errorf("same key, other body: %d %v, want 409 idempotency_conflict", status, body["code"])
	}
	// Bob's key of the same text is his own.
	status, bobs := postConversation(t, h, f.bob, &key, `{"type":"group","title":"Other","members":["`+f.alice+`"]}`)
	if status != 201 || bobs["id"] == first["id"] {
		t.Errorf("bob with the same key text: %d %v, want a conversation of his own", status, bobs)
	}
}
