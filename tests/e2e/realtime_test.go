package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestRealtime walks the realtime contract with real WebSocket clients: alice on one device and
// bob on two share a conversation; carol (same tenant, not a member) and dave (another tenant)
// are connected too. Fresh users keep presence free of other tests' connections.
func TestRealtime(t *testing.T) {
	w := getWorld(t)
	c := api()
	alice := mustRegister(t, c, w.a, "rt-alice")
	bob := mustRegister(t, c, w.a, "rt-bob")
	carol := mustRegister(t, c, w.a, "rt-carol")
	dave := mustRegister(t, c, w.b, "rt-dave")
	convID := createConversation(t, c, alice, "group", "Realtime "+suffix, bob.id)

	bob1 := connectWS(t, the, "bob1", bob.token)
	// The second device sends its token as browsers must: in Sec-WebSocket-Protocol.
	bob2 := connectWSWith(t, the, "bob2", bob.token, true)
	if got := bob2.conn.Subprotocol(); got != "caas" {
		t.Errorf("bob2: negotiated subprotocol %q, want caas (the token must not be echoed)", got)
	}
	carolWS := connectWS(t, the, "carol", carol.token)
	daveWS := connectWS(t, the, "dave", dave.token)
	waitPresence(t, c, alice, convID, bob.id, true)

	aliceWS := connectWS(t, the, "alice", alice.token)
	t.Run("presence online", func(t *testing.T) {
		for _, b := range []*wsClient{bob1, bob2} {
			b.wait(t, "presence online of alice", presenceFrame(alice.id, "online"))
		}
		waitPresence(t, c, bob, convID, alice.id, true)
	})

	var m1, m2 string
	t.Run("messages reach every connection once", func(t *testing.T) {
		body1 := "hello over http " + marker()
		r := mustSend(t, c, alice, convID, "rt-http-1", body1)
		m1 = r.str("id")

		body2 := "hello over websocket " + marker()
		bob1.send(t, map[string]any{"action": "sendMessage", "conversation_id": convID, "client_msg_id": "rt-ws-1", "body": body2})
		bob1.wait(t, "ack of sendMessage", ofType("ack"))
		got := aliceWS.wait(t, "bob's message", func(f frame) bool {
			m, _ := f.obj["message"].(map[string]any)
			return f.str("type") == "message.created" && m["body"] == body2
		})
		msg, _ := got.obj["message"].(map[string]any)
		m2, _ = msg["id"].(string)
		if got.obj != nil {
			checkPushedMessage(t, got, convID, bob.id, body2, 2)
		}
		if m1 == "" || m2 == "" {
			t.Fatalf("message ids: http %q, websocket %q", m1, m2)
		}

		// A resend with the same client_msg_id stores nothing and pushes nothing.
		bob1.send(t, map[string]any{"action": "sendMessage", "conversation_id": convID, "client_msg_id": "rt-ws-1", "body": body2})

		for _, cl := range []*wsClient{aliceWS, bob1, bob2} {
			if f := cl.wait(t, "alice's message "+m1, messageFrame(m1)); f.obj != nil {
				checkPushedMessage(t, f, convID, alice.id, body1, 1)
			}
			cl.wait(t, "bob's message "+m2, messageFrame(m2))
		}
		time.Sleep(quietPeriod)
		for _, cl := range []*wsClient{aliceWS, bob1, bob2} {
			for _, id := range []string{m1, m2} {
				if n := cl.count(messageFrame(id)); n != 1 {
					t.Errorf("%s received message %s %d times, want once; %s", cl.name, id, n, cl.describe())
				}
			}
		}
		hist := c.do(t, "GET", "/v1/conversations/"+convID+"/messages", bearer(alice.token), nil)
		mustStatus(t, hist, http.StatusOK)
		if items := hist.items(); len(items) != 2 || items[1]["id"] != m2 || items[1]["sender_id"] != bob.id {
			t.Errorf("history after one send over HTTP, one over WebSocket and a resend: %s", hist)
		}
	})

	t.Run("typing", func(t *testing.T) {
		aliceWS.send(t, map[string]any{"action": "typing", "conversation_id": convID})
		for _, b := range []*wsClient{bob1, bob2} {
			f := b.wait(t, "typing of alice", ofType("typing"))
			if f.obj != nil && f.str("conversation_id") != convID || f.str("user_id") != alice.id {
				t.Errorf("%s: typing frame %s, want conversation %s and user %s", b.name, f.raw, convID, alice.id)
			}
		}
		time.Sleep(quietPeriod)
		if n := aliceWS.count(ofType("typing")); n != 0 {
			t.Errorf("alice received %d typing frames of her own typing; %s", n, aliceWS.describe())
		}
	})

	t.Run("read receipts", func(t *testing.T) {
		bob2.send(t, map[string]any{"action": "markRead", "conversation_id": convID, "seq": 2})
		f := aliceWS.wait(t, "read receipt of bob", func(f frame) bool {
			return f.str("type") == "read" && f.str("user_id") == bob.id
		})
		if f.obj != nil && (f.str("conversation_id") != convID || f.obj["seq"] != float64(2)) {
			t.Errorf("read receipt %s, want conversation %s and seq 2", f.raw, convID)
		}
	})

	t.Run("ping", func(t *testing.T) {
		bob1.send(t, map[string]any{"action": "ping"})
		bob1.wait(t, "pong", ofType("pong"))
	})

	t.Run("unread counts", func(t *testing.T) {
		r := markRead(t, c, alice, convID, 2)
		if wantStatus(t, r, http.StatusOK) {
			if r.str("conversation_id") != convID || r.num("read_seq") != 2 || r.num("last_seq") != 2 || r.num("unread_count") != 0 {
				t.Errorf("mark read at the last seq: want read_seq 2, last_seq 2, unread_count 0: %s", r)
			}
		}
		var last *reply
		for i := range 3 {
			last = mustSend(t, c, alice, convID, fmt.Sprintf("rt-unread-%d", i), "unread "+marker())
		}
		item := findConversation(t, c, bob, convID)
		if item["unread_count"] != float64(3) || item["last_seq"] != float64(5) {
			t.Errorf("bob's conversation after 3 new messages: want unread_count 3 and last_seq 5: %v", item)
		}
		if item["last_message_at"] != last.str("created_at") {
			t.Errorf("bob's conversation: last_message_at %v, want the last message's created_at %s", item["last_message_at"], last.str("created_at"))
		}
		r = markRead(t, c, bob, convID, 4)
		if wantStatus(t, r, http.StatusOK) && (r.num("read_seq") != 4 || r.num("last_seq") != 5 || r.num("unread_count") != 1) {
			t.Errorf("bob marks seq 4 read: want read_seq 4, last_seq 5, unread_count 1: %s", r)
		}
		if item := findConversation(t, c, bob, convID); item["unread_count"] != float64(1) {
			t.Errorf("bob's conversation after reading up to 4 of 5: want unread_count 1: %v", item)
		}
		wantProblem(t, markRead(t, c, carol, convID, 1), http.StatusNotFound, "conversation_not_found")
	})

	t.Run("outsiders receive nothing", func(t *testing.T) {
		time.Sleep(quietPeriod)
		if n := carolWS.count(mentions(convID)); n != 0 {
			t.Errorf("carol, not a member, received %d frames about the conversation; %s", n, carolWS.describe())
		}
		if n := daveWS.count(mentions(convID, alice.id, bob.id, carol.id, w.a.id)); n != 0 {
			t.Errorf("dave, of another tenant, received %d frames about tenant A; %s", n, daveWS.describe())
		}
		wantProblem(t, c.do(t, "GET", "/v1/conversations/"+convID+"/presence", bearer(dave.token), nil),
			http.StatusNotFound, "conversation_not_found")
	})

	t.Run("presence offline", func(t *testing.T) {
		bob1.close()
		time.Sleep(quietPeriod)
		if n := aliceWS.count(presenceFrame(bob.id, "offline")); n != 0 {
			t.Errorf("bob went offline with a device still connected; %s", aliceWS.describe())
		}
		waitPresence(t, c, alice, convID, bob.id, true)
		bob2.close()
		aliceWS.wait(t, "presence offline of bob", presenceFrame(bob.id, "offline"))
		waitPresence(t, c, alice, convID, bob.id, false)
	})
}

// concurrentMembers is how many members of TestConcurrentConnects connect at the same time.
const concurrentMembers = 12

// TestConcurrentConnects connects every member of a group at once, as a team opening the app
// after a deploy does, and checks that each connection is registered and receives a message.
func TestConcurrentConnects(t *testing.T) {
	w := getWorld(t)
	c := api()
	users := make([]*user, concurrentMembers)
	for i := range users {
		users[i] = mustRegister(t, c, w.a, fmt.Sprintf("cc%d", i))
	}
	ids := make([]string, 0, len(users)-1)
	for _, u := range users[1:] {
		ids = append(ids, u.id)
	}
	convID := createConversation(t, c, users[0], "group", "Concurrent connects "+suffix, ids...)

	conns := make([]*wsDial, len(users))
	err := parallel(len(users), len(users), func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), pushDeadline)
		defer cancel()
		d, err := dialWS(ctx, the, users[i].token, false)
		conns[i] = d
		return err
	})
	clients := make([]*wsClient, len(users))
	for i, d := range conns {
		if d != nil && d.conn != nil {
			clients[i] = newWSClient(users[i].name, d)
			t.Cleanup(clients[i].close)
		}
	}
	if err != nil {
		t.Fatalf("connect %d members at once: %v", len(users), err)
	}

	var unregistered []string
	for _, u := range users {
		if len(connectionIDs(t, the, u)) != 1 {
			unregistered = append(unregistered, u.name)
		}
	}
	if len(unregistered) > 0 {
		t.Errorf("%d of %d members connected at once have no connection in the registry: %v",
			len(unregistered), len(users), unregistered)
	}
	m := mustSend(t, c, users[0], convID, "cc-1", "to everyone "+marker())
	var missed []string
	deadline := time.Now().Add(pushDeadline)
	for _, cl := range clients {
		if len(cl.waitN(1, time.Until(deadline), messageFrame(m.str("id")))) == 0 {
			missed = append(missed, cl.name)
		}
	}
	if len(missed) > 0 {
		t.Errorf("%d of %d connections never received the message: %v", len(missed), len(users), missed)
	}
}

// checkPushedMessage checks a message.created push against what was sent.
func checkPushedMessage(t *testing.T, f frame, convID, senderID, body string, seq float64) {
	t.Helper()
	m, _ := f.obj["message"].(map[string]any)
	for _, k := range []string{"id", "conversation_id", "sender_id", "body", "created_at"} {
		if s, _ := m[k].(string); s == "" {
			t.Errorf("pushed message lacks %q: %s", k, f.raw)
		}
	}
	if m["conversation_id"] != convID || m["sender_id"] != senderID || m["body"] != body || m["seq"] != seq {
		t.Errorf("pushed message %s: want conversation %s, sender %s, seq %v and the body sent", f.raw, convID, senderID, seq)
	}
	if s, _ := m["created_at"].(string); s != "" {
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("pushed message created_at %q is not RFC 3339", s)
		}
	}
}

func presenceFrame(userID, status string) func(frame) bool {
	return func(f frame) bool {
		return f.str("type") == "presence" && f.str("user_id") == userID && f.str("status") == status
	}
}

// waitPresence polls GET presence as u until userID is listed with the wanted online flag, and
// reports an error when it never is.
func waitPresence(t *testing.T, c *client, u *user, convID, userID string, online bool) bool {
	t.Helper()
	deadline := time.Now().Add(pushDeadline)
	for {
		r := c.do(t, "GET", "/v1/conversations/"+convID+"/presence", bearer(u.token), nil)
		if r.status == http.StatusOK {
			for _, it := range r.items() {
				if it["user_id"] == userID && it["online"] == online {
					return true
				}
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("GET presence never showed %s with online=%v within %s; last: %s", userID, online, pushDeadline, r)
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func markRead(t *testing.T, c *client, u *user, convID string, seq int) *reply {
	t.Helper()
	return c.do(t, "POST", "/v1/conversations/"+convID+"/read", bearer(u.token), map[string]int{"seq": seq})
}

// findConversation returns convID's item in u's conversation list (the first page, newest first).
func findConversation(t *testing.T, c *client, u *user, convID string) map[string]any {
	t.Helper()
	r := c.do(t, "GET", "/v1/conversations?limit=100", bearer(u.token), nil)
	mustStatus(t, r, http.StatusOK)
	for _, it := range r.items() {
		if it["id"] == convID {
			return it
		}
	}
	t.Fatalf("conversation %s is not in %s's list: %s", convID, u.name, r)
	return nil
}

// mustRegister registers and logs in a fresh user of the tenant, ending the test on failure.
func mustRegister(t testing.TB, c *client, tn *tenant, name string) *user {
	t.Helper()
	u, err := registerAndLogin(c, tn, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
