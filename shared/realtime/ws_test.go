package realtime_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
)

// wsEvent is a WebSocket route event of the connection id, from user of tenant.
func wsEvent(route, tenant, user, connID, body string) events.APIGatewayWebsocketProxyRequest {
	return events.APIGatewayWebsocketProxyRequest{
		Body: body,
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey: route, ConnectionID: connID, RequestID: "req-1", ConnectedAt: 1735787045000,
			Authorizer: map[string]any{"principalId": user, "tenant_id": tenant, "user_id": user, "role": "user"},
		},
	}
}

// types returns the "type" of each event.
func types(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		s, _ := e["type"].(string)
		out = append(out, s)
	}
	return out
}

func TestConnectAndDisconnectAnnouncePresence(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	f.chat.addConversation("ten_a", "cnv_2", "usr_ann", "usr_bob", "usr_cid")
	f.connect(t, "ten_a", "usr_bob", "bob")
	f.connect(t, "ten_a", "usr_cid", "cid")
	f.connect(t, "ten_b", "usr_bob", "b-bob")

	ev := wsEvent("$connect", "ten_a", "usr_ann", "ann-1", "")
	ev.Headers = map[string]string{"sec-websocket-protocol": "caas, eyJ.token"}
	resp, err := f.svc.Connect(t.Context(), ev)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Headers["Sec-WebSocket-Protocol"] != "caas" {
		t.Fatalf("connect: %+v %v", resp, err)
	}
	// bob shares two conversations with ann but is told once; the other tenant's bob never.
	for id, want := range map[string]int{"bob": 1, "cid": 1, "b-bob": 0, "ann-1": 0} {
		got := f.push.received(id)
		if len(got) != want {
			t.Fatalf("%s received %v, want %d presence events", id, got, want)
		}
		if want == 1 && (got[0]["type"] != "presence" || got[0]["user_id"] != "usr_ann" || got[0]["status"] != "online") {
			t.Fatalf("%s received %v", id, got[0])
		}
	}

	// A second device is not news; without the subprotocol none is answered.
	resp, _ = f.svc.Connect(t.Context(), wsEvent("$connect", "ten_a", "usr_ann", "ann-2", ""))
	if resp.StatusCode != http.StatusOK || resp.Headers != nil {
		t.Fatalf("second connect: %+v", resp)
	}
	if got := f.live(t, "ten_a", "usr_ann"); !slices.Equal(got, []string{"ann-1", "ann-2"}) {
		t.Fatalf("ann's connections %v", got)
	}
	f.svc.Disconnect(t.Context(), wsEvent("$disconnect", "ten_a", "usr_ann", "ann-1", ""))
	if got := f.live(t, "ten_a", "usr_ann"); !slices.Equal(got, []string{"ann-2"}) {
		t.Fatalf("after disconnecting ann-1: %v", got)
	}
	if n := len(f.push.received("bob")); n != 1 {
		t.Fatalf("bob received %d events, want still 1", n)
	}
	f.svc.Disconnect(t.Context(), wsEvent("$disconnect", "ten_a", "usr_ann", "ann-2", ""))
	got := f.push.received("bob")
	if len(got) != 2 || got[1]["status"] != "offline" {
		t.Fatalf("bob received %v, want online then offline", got)
	}
	// A repeated $disconnect is harmless.
	if resp, err := f.svc.Disconnect(t.Context(), wsEvent("$disconnect", "ten_a", "usr_ann", "ann-2", "")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("repeated disconnect: %+v %v", resp, err)
	}
}

func TestConnectWithoutCallerIsRefused(t *testing.T) {
	f := newFixture(t)
	ev := wsEvent("$connect", "", "", "x", "")
	if resp, _ := f.svc.Connect(t.Context(), ev); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode)
	}
}

func TestConnectSurvivesAChatOutage(t *testing.T) {
	f := newFixture(t)
	f.chat.down = true
	resp, err := f.svc.Connect(t.Context(), wsEvent("$connect", "ten_a", "usr_ann", "ann", ""))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connect with presence failing: %+v %v", resp, err)
	}
	if got := f.live(t, "ten_a", "usr_ann"); !slices.Equal(got, []string{"ann"}) {
		t.Fatalf("connection not recorded: %v", got)
	}
}

// send handles one frame from ann's connection "ann" and returns what ann received.
func (f *fixture) send(t *testing.T, frame string) []map[string]any {
	t.Helper()
	before := len(f.push.received("ann"))
	resp, err := f.svc.Default(t.Context(), wsEvent("$default", "ten_a", "usr_ann", "ann", frame))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("frame %s: %+v %v", frame, resp, err)
	}
	return f.push.received("ann")[before:]
}

func TestDefaultActions(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	f.chat.addConversation("ten_a", "cnv_other", "usr_bob", "usr_cid")
	f.connect(t, "ten_a", "usr_ann", "ann")
	f.connect(t, "ten_a", "usr_ann", "ann-phone")
	f.connect(t, "ten_a", "usr_bob", "bob")
	f.connect(t, "ten_b", "usr_bob", "b-bob")

	got := f.send(t, `{"action":"sendMessage","conversation_id":"cnv_1","client_msg_id":"m1","body":"hi"}`)
	if len(got) != 1 || got[0]["type"] != "ack" || got[0]["client_msg_id"] != "m1" || got[0]["action"] != "sendMessage" {
		t.Fatalf("send ack %v", got)
	}
	msg := got[0]["message"].(map[string]any)
	if msg["body"] != "hi" || msg["sender_id"] != "usr_ann" || msg["seq"] != 1.0 || msg["id"] == "" {
		t.Fatalf("acked message %v", msg)
	}
	// The same client_msg_id is the same message; another body is a conflict.
	again := f.send(t, `{"action":"sendMessage","conversation_id":"cnv_1","client_msg_id":"m1","body":"hi"}`)
	if again[0]["message"].(map[string]any)["id"] != msg["id"] {
		t.Fatalf("retried send made a new message: %v", again)
	}
	conflict := f.send(t, `{"action":"sendMessage","conversation_id":"cnv_1","client_msg_id":"m1","body":"other"}`)
	if conflict[0]["type"] != "error" || conflict[0]["code"] != "idempotency_conflict" || conflict[0]["client_msg_id"] != "m1" {
		t.Fatalf("conflict %v", conflict)
	}
	// Messages reach members through MessageFanout, not from here.
	if n := len(f.push.received("bob")); n != 0 {
		t.Fatalf("bob received %d events from a send", n)
	}

	// Typing goes to the other members, not to the sender's devices nor another tenant.
	if got := f.send(t, `{"action":"typing","conversation_id":"cnv_1"}`); len(got) != 0 {
		t.Fatalf("typing answered the sender: %v", got)
	}
	if got := f.push.received("bob"); len(got) != 1 || got[0]["type"] != "typing" || got[0]["user_id"] != "usr_ann" || got[0]["conversation_id"] != "cnv_1" {
		t.Fatalf("bob received %v", got)
	}
	if n := len(f.push.received("ann-phone")) + len(f.push.received("b-bob")); n != 0 {
		t.Fatalf("typing reached the sender's other device or another tenant (%d)", n)
	}
	got = f.send(t, `{"action":"typing","conversation_id":"cnv_other"}`)
	if len(got) != 1 || got[0]["code"] != "conversation_not_found" {
		t.Fatalf("typing in a foreign conversation: %v", got)
	}

	// markRead: the receipt to the others, the read state to the sender.
	got = f.send(t, `{"action":"markRead","conversation_id":"cnv_1","seq":4}`)
	if len(got) != 1 || got[0]["type"] != "ack" || got[0]["action"] != "markRead" || got[0]["read_seq"] != 4.0 ||
		got[0]["last_seq"] != 10.0 || got[0]["unread_count"] != 6.0 {
		t.Fatalf("markRead ack %v", got)
	}
	bob := f.push.received("bob")
	if last := bob[len(bob)-1]; last["type"] != "read" || last["seq"] != 4.0 || last["user_id"] != "usr_ann" {
		t.Fatalf("bob's receipt %v", last)
	}
	got = f.send(t, `{"action":"markRead","conversation_id":"cnv_other","seq":4}`)
	if got[0]["code"] != "conversation_not_found" {
		t.Fatalf("markRead in a foreign conversation: %v", got)
	}

	if got := f.send(t, `{"action":"ping"}`); len(got) != 1 || got[0]["type"] != "pong" {
		t.Fatalf("ping: %v", got)
	}
	for frame, code := range map[string]string{
		`{"action":"dance"}`:        "unknown_action",
		`{"action":`:                "malformed_json",
		strings.Repeat("x", 40<<10): "frame_too_large",
		`{"action":"typing","x":1}`: "unknown_field",
		`{"action":"sendMessage","client_msg_id":"m2","body":"x"}`: "missing_field",
	} {
		got := f.send(t, frame)
		if len(got) != 1 || got[0]["type"] != "error" || got[0]["code"] != code {
			t.Errorf("frame %.40s: %v, want error %s", frame, got, code)
		}
	}

	// A broken backend is an internal error whose cause stays in the logs.
	f.chat.down = true
	got = f.send(t, `{"action":"sendMessage","conversation_id":"cnv_1","client_msg_id":"m3","body":"x"}`)
	b, _ := json.Marshal(got)
	if got[0]["code"] != "internal" || strings.Contains(string(b), "mongo") {
		t.Fatalf("internal error frame %s", b)
	}
}

func TestPresenceAndMarkReadHTTP(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob", "usr_cid")
	f.connect(t, "ten_a", "usr_bob", "bob")
	f.connect(t, "ten_b", "usr_cid", "b-cid") // another tenant's cid is not tenant A's

	ann := edge.WithIdentity(t.Context(), edge.Identity{TenantID: "ten_a", UserID: "usr_ann"})
	req := &edge.Request{}
	req.PathParameters = map[string]string{"id": "cnv_1"}
	resp, err := f.svc.GetPresence(ann, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("presence: %+v %v", resp, err)
	}
	want := `{"items":[{"user_id":"usr_ann","online":false},{"user_id":"usr_bob","online":true},{"user_id":"usr_cid","online":false}]}`
	if resp.Body != want {
		t.Fatalf("presence body %s\nwant %s", resp.Body, want)
	}
	dan := edge.WithIdentity(t.Context(), edge.Identity{TenantID: "ten_a", UserID: "usr_dan"})
	if _, err := f.svc.GetPresence(dan, req); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("non-member presence: %v", err)
	}

	req.Body = `{"seq":3}`
	resp, err = f.svc.MarkReadHTTP(ann, req)
	if err != nil || resp.Body != `{"conversation_id":"cnv_1","read_seq":3,"last_seq":10,"unread_count":7}` {
		t.Fatalf("mark read: %+v %v", resp, err)
	}
	if got := f.push.received("bob"); len(got) != 1 || got[0]["type"] != "read" || got[0]["seq"] != 3.0 {
		t.Fatalf("bob's receipt %v", got)
	}
	for _, body := range []string{`{}`, `{"seq":-1}`, `{"seq":"3"}`, `{"seq":3,"x":1}`} {
		req.Body = body
		if _, err := f.svc.MarkReadHTTP(ann, req); err == nil {
			t.Errorf("mark read %s succeeded", body)
		}
	}
}
