package realtime_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/chat"
)

// batch wraps message events as the Kafka trigger delivers them: base64 values in one
// partition, in order.
func batch(values ...any) events.KafkaEvent {
	var recs []events.KafkaRecord
	for i, v := range values {
		b, ok := v.([]byte)
		if !ok {
			b, _ = json.Marshal(v)
		}
		recs = append(recs, events.KafkaRecord{Topic: "caas.messages", Partition: 0, Offset: int64(i),
			Value: base64.StdEncoding.EncodeToString(b)})
	}
	return events.KafkaEvent{EventSource: "SelfManagedKafka", Records: map[string][]events.KafkaRecord{"caas.messages-0": recs}}
}

func message(tenant, id, conv, sender string, seq int64) chat.Message {
	return chat.Message{ID: id, TenantID: tenant, ConversationID: conv, SenderID: sender, ClientMsgID: "c-" + id,
		Body: "hello " + id, Seq: seq, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)}
}

func TestFanoutDeliversToEveryMemberConnection(t *testing.T) {
	f := newFixture(t)
	// Tenant A: ann (two devices) writes to bob (a stale connection and a live one) and cid
	// (no connection); dan is not a member. Tenant B has users and a conversation with the
	// same ids.
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob", "usr_cid")
	f.chat.addConversation("ten_b", "cnv_1", "usr_ann", "usr_bob")
	m := message("ten_a", "msg_1", "cnv_1", "usr_ann", 1)
	f.chat.addMessage(m)
	f.connect(t, "ten_a", "usr_ann", "ann-phone")
	f.connect(t, "ten_a", "usr_ann", "ann-laptop")
	f.connect(t, "ten_a", "usr_bob", "bob-stale")
	f.connect(t, "ten_a", "usr_bob", "bob-live")
	f.connect(t, "ten_a", "usr_dan", "dan")
	f.connect(t, "ten_b", "usr_ann", "b-ann")
	f.connect(t, "ten_b", "usr_bob", "b-bob")
	f.push.gone["bob-stale"] = true

	res, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 1 || res.Sent != 3 || res.Gone != 1 || res.Skipped != 0 {
		t.Fatalf("result %+v, want 3 sent and 1 gone", res)
	}

	for _, id := range []string{"ann-phone", "ann-laptop", "bob-live"} {
		got := f.push.received(id)
		if len(got) != 1 || got[0]["type"] != "message.created" {
			t.Fatalf("%s received %v, want one message.created", id, got)
		}
		msg, _ := got[0]["message"].(map[string]any)
		want := map[string]any{"id": "msg_1", "seq": 1.0, "conversation_id": "cnv_1", "sender_id": "usr_ann",
			"body": "hello msg_1", "created_at": "2025-01-02T03:04:05.006Z"}
		for k, v := range want {
			if msg[k] != v {
				t.Fatalf("%s: message[%s] = %v, want %v (%v)", id, k, msg[k], v, msg)
			}
		}
	}
	for _, id := range []string{"dan", "b-ann", "b-bob"} {
		if got := f.push.received(id); len(got) != 0 || f.push.attempts[id] != 0 {
			t.Fatalf("%s is not a member of tenant A's conversation but received %v", id, got)
		}
	}

	// The 410 removed exactly the stale connection: the sender's devices, bob's live one and
	// the other tenant's connections stay.
	if got := f.live(t, "ten_a", "usr_bob"); !slices.Equal(got, []string{"bob-live"}) {
		t.Fatalf("bob's connections %v, want [bob-live]", got)
	}
	if got := f.live(t, "ten_a", "usr_ann"); !slices.Equal(got, []string{"ann-laptop", "ann-phone"}) {
		t.Fatalf("ann's connections %v", got)
	}
	if got := f.live(t, "ten_b", "usr_bob"); !slices.Equal(got, []string{"b-bob"}) {
		t.Fatalf("tenant B's bob %v", got)
	}
}

func TestFanoutGivesUpOnAFailingConnectionOnly(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	m := message("ten_a", "msg_1", "cnv_1", "usr_ann", 1)
	f.chat.addMessage(m)
	f.connect(t, "ten_a", "usr_bob", "bob-throttled")
	f.connect(t, "ten_a", "usr_bob", "bob-ok")
	f.push.failing["bob-throttled"] = true

	res, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m)))
	if err != nil || res.Sent != 1 || res.Failed != 1 || res.Gone != 0 {
		t.Fatalf("result %+v err %v, want 1 sent and 1 failed", res, err)
	}
	// A failed push is not a 410: the connection is kept.
	if got := f.live(t, "ten_a", "usr_bob"); !slices.Equal(got, []string{"bob-ok", "bob-throttled"}) {
		t.Fatalf("bob's connections %v", got)
	}
}

func TestFanoutSkipsWhatCannotBeDelivered(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	ok := message("ten_a", "msg_ok", "cnv_1", "usr_ann", 2)
	f.chat.addMessage(ok)
	orphan := message("ten_a", "msg_orphan", "cnv_gone", "usr_ann", 1)
	f.chat.addMessage(orphan)
	f.connect(t, "ten_a", "usr_bob", "bob")

	deleted := chat.EventFor(message("ten_a", "msg_deleted", "cnv_1", "usr_ann", 1))
	otherTenant := chat.EventFor(ok)
	otherTenant.TenantID = "ten_b" // the message is tenant A's: tenant B has no such message
	mismatch := chat.EventFor(ok)
	mismatch.ConversationID = "cnv_other"
	other := map[string]any{"type": "conversation.created", "tenant_id": "ten_a"}

	res, err := f.svc.Fanout(t.Context(), batch([]byte("not json"), other, deleted, otherTenant, mismatch,
		chat.EventFor(orphan), chat.EventFor(ok)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 7 || res.Skipped != 6 || res.Sent != 1 {
		t.Fatalf("result %+v, want 6 skipped and 1 sent", res)
	}
	got := f.push.received("bob")
	if len(got) != 1 || got[0]["message"].(map[string]any)["id"] != "msg_ok" {
		t.Fatalf("bob received %v, want only msg_ok", got)
	}
}

func TestFanoutFailsTheBatchWhenABackendIsDown(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	m := message("ten_a", "msg_1", "cnv_1", "usr_ann", 1)
	f.chat.addMessage(m)
	f.connect(t, "ten_a", "usr_bob", "bob")

	f.chat.down = true
	if _, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m))); err == nil {
		t.Fatal("fan-out with the chat store down succeeded; the batch would be lost")
	}
	if got := f.push.received("bob"); len(got) != 0 {
		t.Fatalf("bob received %v", got)
	}

	// The retried batch delivers once the store is back.
	f.chat.down = false
	if res, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m))); err != nil || res.Sent != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

func TestFanoutManyConnections(t *testing.T) {
	f := newFixture(t)
	var members []string
	for i := range 200 {
		members = append(members, "usr_"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	f.chat.addConversation("ten_a", "cnv_1", members...)
	m := message("ten_a", "msg_1", "cnv_1", members[0], 1)
	f.chat.addMessage(m)
	for _, u := range members {
		f.connect(t, "ten_a", u, "c-"+u)
	}
	res, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m)))
	if err != nil || res.Sent != len(members) {
		t.Fatalf("result %+v err %v, want %d sent", res, err, len(members))
	}
	for _, u := range members {
		if n := len(f.push.received("c-" + u)); n != 1 {
			t.Fatalf("%s received %d pushes", u, n)
		}
	}
}

// A connection whose $connect has not answered yet answers 410, as API Gateway does; it must
// stay registered, or members who connect at the same moment erase each other.
func TestFanoutKeepsConnectionsStillConnecting(t *testing.T) {
	f := newFixture(t)
	f.chat.addConversation("ten_a", "cnv_1", "usr_ann", "usr_bob")
	m := message("ten_a", "msg_1", "cnv_1", "usr_ann", 1)
	f.chat.addMessage(m)
	f.connectAt(t, "ten_a", "usr_bob", "bob-new", time.Now())
	f.connect(t, "ten_a", "usr_bob", "bob-old")
	f.push.gone["bob-new"] = true
	f.push.gone["bob-old"] = true

	res, err := f.svc.Fanout(t.Context(), batch(chat.EventFor(m)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Gone != 2 {
		t.Fatalf("result %+v, want both pushes gone", res)
	}
	if got := f.live(t, "ten_a", "usr_bob"); len(got) != 1 || got[0] != "bob-new" {
		t.Fatalf("bob's live connections %v, want only the one still connecting", got)
	}
}
