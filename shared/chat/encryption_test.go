package chat_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"go.mongodb.org/mongo-driver/bson"
	mongodriver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

// marker returns a text no test has written before.
func marker(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "marker-" + hex.EncodeToString(b)
}

// scanDatabases reads every document of every collection of the fixture's databases as raw
// BSON and returns how many documents it read and the collections holding needle.
func scanDatabases(t *testing.T, f fixture, needle string) (docs int, found []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongodriver.Connect(ctx, options.Client().ApplyURI(backendtest.MongoURI(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	for _, name := range []string{mongo.PlatformDB, mongo.CryptoDB} {
		db := c.Database(f.dbPrefix + name)
		colls, err := db.ListCollectionNames(ctx, bson.D{})
		if err != nil {
			t.Fatalf("list collections of %s: %v", name, err)
		}
		for _, coll := range colls {
			cur, err := db.Collection(coll).Find(ctx, bson.D{})
			if err != nil {
				t.Fatalf("read %s.%s: %v", name, coll, err)
			}
			for cur.Next(ctx) {
				docs++
				if bytes.Contains(cur.Current, []byte(needle)) {
					found = append(found, name+"."+coll)
				}
			}
			if err := cur.Err(); err != nil {
				t.Fatalf("read %s.%s: %v", name, coll, err)
			}
			cur.Close(ctx)
		}
	}
	return docs, found
}

// rawEvents reads the topic from its start until it has seen the event of every message id in
// want, and returns those events' values.
func rawEvents(t *testing.T, brokers string, want ...string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{brokers}, Topic: messagesTopic, MaxWait: 100 * time.Millisecond,
		GroupID: fmt.Sprintf("encryption-test-%d", time.Now().UnixNano()), StartOffset: kafkago.FirstOffset,
	})
	defer r.Close()
	var out [][]byte
	seen := map[string]bool{}
	for len(seen) < len(want) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read events (have %d of %d): %v", len(seen), len(want), err)
		}
		// The topic holds other tests' events too (a real broker keeps earlier runs'): only the
		// events of the wanted messages are returned.
		for _, id := range want {
			if bytes.Contains(m.Value, []byte(`"message_id":"`+id+`"`)) {
				seen[id] = true
				out = append(out, m.Value)
			}
		}
	}
	return out
}

func (f fixture) group(t *testing.T, svc *chat.Service) chat.Conversation {
	t.Helper()
	conv, _, err := svc.CreateConversation(context.Background(), "ten_a", f.alice,
		chat.NewConversation{Type: chat.TypeGroup, Title: "g", Members: []string{f.bob}}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func send(t *testing.T, svc *chat.Service, sender, convID, clientMsgID, body string) chat.Message {
	t.Helper()
	m, _, err := svc.SendMessage(context.Background(), "ten_a", sender, convID, chat.NewMessage{ClientMsgID: clientMsgID, Body: body})
	if err != nil {
		t.Fatalf("send %s: %v", clientMsgID, err)
	}
	return m
}

// list returns every message of the conversation as userID reads it, by id.
func list(t *testing.T, svc *chat.Service, userID, convID string) map[string]chat.Message {
	t.Helper()
	page, err := svc.ListMessages(context.Background(), "ten_a", userID, convID, chat.MessageQuery{Limit: chat.MaxMessageLimit})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	out := map[string]chat.Message{}
	for _, m := range page.Items {
		out[m.ID] = m
	}
	return out
}

// versionOf returns the key version a stored message's body is sealed with.
func versionOf(t *testing.T, ct string) int {
	t.Helper()
	h, _, err := keys.ParseCiphertext(ct)
	if err != nil {
		t.Fatalf("body ciphertext %q: %v", ct, err)
	}
	return h.Version
}

// The database and the event stream hold message bodies only as ciphertext; the service reads
// them back.
func TestNoPlaintextBodyStoredOrPublished(t *testing.T) {
	ctx := context.Background()
	brokers := backendtest.KafkaBrokers(t)
	f := newFixture(t)
	svc := f.service(newPublisher(t, brokers), clock.System{})
	conv := f.group(t, svc)
	mark := marker(t)

	var sent []chat.Message
	for i := range 3 {
		sent = append(sent, send(t, svc, f.alice, conv.ID, fmt.Sprintf("c%d", i), fmt.Sprintf("%s %d", mark, i)))
	}
	// A short text too, whose unkeyed hash would be easy to guess.
	sent = append(sent, send(t, svc, f.bob, conv.ID, "short", "ok"))
	// A retry goes through the idempotency record too.
	if again := send(t, svc, f.alice, conv.ID, "c0", mark+" 0"); again.ID != sent[0].ID {
		t.Fatalf("retry made %s, want %s", again.ID, sent[0].ID)
	}

	got := list(t, svc, f.bob, conv.ID)
	for i, m := range sent[:3] {
		if want := fmt.Sprintf("%s %d", mark, i); got[m.ID].Body != want || got[m.ID].Erased {
			t.Errorf("listed body of %s = %q (erased %v), want %q", m.ID, got[m.ID].Body, got[m.ID].Erased, want)
		}
	}
	if read, err := svc.Message(ctx, "ten_a", sent[1].ID); err != nil || read.Body != mark+" 1" {
		t.Errorf("Message = %q, %v; want the body", read.Body, err)
	}

	docs, found := scanDatabases(t, f, mark)
	if docs < len(sent) {
		t.Fatalf("scanned %d documents, want at least the %d messages", docs, len(sent))
	}
	if len(found) > 0 {
		t.Errorf("the marker text is stored in plaintext in %v", found)
	}
	// The SHA-256 of "ok", as an unkeyed fingerprint would keep it.
	if _, found := scanDatabases(t, f, "2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df"); len(found) > 0 {
		t.Errorf("the plain hash of a short body is stored in %v", found)
	}
	// The scan does see what is stored: the conversation id is in the messages.
	if _, found := scanDatabases(t, f, conv.ID); !slices.Contains(found, mongo.PlatformDB+".messages") {
		t.Errorf("the scan found the conversation id only in %v", found)
	}

	ids := make([]string, len(sent))
	for i, m := range sent {
		ids[i] = m.ID
	}
	for _, v := range rawEvents(t, brokers, ids...) {
		if bytes.Contains(v, []byte(mark)) {
			t.Errorf("an event carries the plaintext: %s", v)
		}
		if !bytes.Contains(v, []byte(`"body_ciphertext":"caas:v1:`)) {
			t.Errorf("an event carries no body ciphertext: %s", v)
		}
	}
}

// A retry after the sender's key was rotated is still recognised: the recorded MAC is checked
// with the version that made it. Old and new messages read.
func TestRetryAndReadAcrossRotation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	conv := f.group(t, svc)
	first := send(t, svc, f.alice, conv.ID, "k1", "before rotation")

	admin := keys.Caller{TenantID: "ten_a", Role: keys.RoleAdmin}
	if _, err := f.cipher.RotateKey(ctx, admin, keys.UserKeyName(f.alice)); err != nil {
		t.Fatalf("rotate: %v", err)
	}

	again, created, err := svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "k1", Body: "before rotation"})
	if err != nil || created || again.ID != first.ID || again.Body != "before rotation" {
		t.Errorf("retry after rotation = %s created %v body %q err %v; want the first message",
			again.ID, created, again.Body, err)
	}
	_, _, err = svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "k1", Body: "something else"})
	if !errors.Is(err, chat.ErrIdempotencyConflict) {
		t.Errorf("other body after rotation: err = %v, want ErrIdempotencyConflict", err)
	}

	second := send(t, svc, f.alice, conv.ID, "k2", "after rotation")
	if v1, v2 := versionOf(t, first.BodyCiphertext), versionOf(t, second.BodyCiphertext); v1 != 1 || v2 != 2 {
		t.Errorf("sealed with versions %d and %d, want 1 then 2", v1, v2)
	}
	got := list(t, svc, f.bob, conv.ID)
	if got[first.ID].Body != "before rotation" || got[second.ID].Body != "after rotation" {
		t.Errorf("listed %q and %q, want both bodies", got[first.ID].Body, got[second.ID].Body)
	}
}

// The re-encryption job moves bodies to the primary version in bounded runs, resuming where
// the last run stopped, and starts over after reaching the end.
func TestReencryptMessagesResumesAcrossRuns(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	conv := f.group(t, svc)
	var old []chat.Message
	for i := range 5 {
		old = append(old, send(t, svc, f.alice, conv.ID, fmt.Sprintf("a%d", i), fmt.Sprintf("alice %d", i)))
	}
	bobs := send(t, svc, f.bob, conv.ID, "b0", "bob 0")
	admin := keys.Caller{TenantID: "ten_a", Role: keys.RoleAdmin}
	if _, err := f.cipher.RotateKey(ctx, admin, keys.UserKeyName(f.alice)); err != nil {
		t.Fatalf("rotate: %v", err)
	}
	fresh := send(t, svc, f.alice, conv.ID, "a5", "alice 5")

	// 7 messages in batches of 2, one batch a run: 2, 2, 2, then 1 and the end.
	var total chat.ReencryptResult
	for run, want := range []int{2, 2, 2, 1} {
		res, err := svc.ReencryptMessages(ctx, 2, 1)
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if res.Scanned != want || res.Finished != (run == 3) || res.Failed != 0 {
			t.Errorf("run %d = %+v, want %d scanned, finished %v", run, res, want, run == 3)
		}
		total.Rewrapped += res.Rewrapped
		total.Scanned += res.Scanned
	}
	if total.Rewrapped != len(old) || total.Scanned != 7 {
		t.Errorf("runs rewrapped %d of %d scanned, want the %d old bodies of 7", total.Rewrapped, total.Scanned, len(old))
	}

	stored, err := f.store.ListMessages(ctx, "ten_a", conv.ID, chat.MessageRange{Forward: true, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range stored {
		want := 2
		if m.SenderID == f.bob {
			want = 1
		}
		if v := versionOf(t, m.BodyCiphertext); v != want {
			t.Errorf("message %s of %s is sealed with version %d, want %d", m.ID, m.SenderID, v, want)
		}
	}
	got := list(t, svc, f.bob, conv.ID)
	for i, m := range old {
		if got[m.ID].Body != fmt.Sprintf("alice %d", i) {
			t.Errorf("after re-encryption %s reads %q", m.ID, got[m.ID].Body)
		}
	}
	if got[bobs.ID].Body != "bob 0" || got[fresh.ID].Body != "alice 5" {
		t.Errorf("after re-encryption: %q, %q", got[bobs.ID].Body, got[fresh.ID].Body)
	}

	// The next run starts over and finds nothing left to move.
	res, err := svc.ReencryptMessages(ctx, 100, 0)
	if err != nil || res.Scanned != 7 || res.Rewrapped != 0 || !res.Finished {
		t.Errorf("run after the end = %+v, %v; want all 7 scanned again, none rewrapped", res, err)
	}
}

// Destroying a sender's key erases that sender's bodies, everywhere they are read; other
// senders' messages are unaffected.
func TestShreddedSenderReadsAsErased(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	conv := f.group(t, svc)
	a := send(t, svc, f.alice, conv.ID, "a", "from alice")
	b := send(t, svc, f.bob, conv.ID, "b", "from bob")
	if err := f.cipher.ShredUser(ctx, "ten_a", f.alice); err != nil {
		t.Fatalf("shred: %v", err)
	}

	got := list(t, svc, f.bob, conv.ID)
	if m := got[a.ID]; !m.Erased || m.Body != "" {
		t.Errorf("alice's message = body %q erased %v, want erased", m.Body, m.Erased)
	}
	if m := got[b.ID]; m.Erased || m.Body != "from bob" {
		t.Errorf("bob's message = body %q erased %v, want it readable", m.Body, m.Erased)
	}
	if m, err := svc.Message(ctx, "ten_a", a.ID); err != nil || !m.Erased || m.Body != "" {
		t.Errorf("Message = body %q erased %v err %v, want erased", m.Body, m.Erased, err)
	}
	res, err := svc.ReencryptMessages(ctx, 100, 0)
	if err != nil || res.Erased != 1 || res.Failed != 0 {
		t.Errorf("re-encryption = %+v, %v; want the erased body skipped", res, err)
	}
	if _, _, err := svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "a2", Body: "again"}); err == nil ||
		!strings.Contains(err.Error(), "key_shredded") && !errors.Is(err, keys.ErrKeyShredded) {
		t.Errorf("send by an erased user: err = %v, want it refused", err)
	}
}

// Through the HTTP API, an erased message shows "erased": true with an empty body; the others
// show no "erased" at all.
func TestListShowsErasedOverHTTP(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	h := chat.NewHandlers(svc)
	conv := f.group(t, svc)
	a := send(t, svc, f.alice, conv.ID, "a", "from alice")
	b := send(t, svc, f.bob, conv.ID, "b", "from bob")
	if err := f.cipher.ShredUser(ctx, "ten_a", f.alice); err != nil {
		t.Fatal(err)
	}
	status, page := call(t, h.ListMessages, "ten_a", f.bob, "", map[string]string{"id": conv.ID}, nil)
	if status != 200 {
		t.Fatalf("list = %d %v", status, page)
	}
	items, _ := page["items"].([]any)
	seen := 0
	for _, it := range items {
		m, _ := it.(map[string]any)
		switch m["id"] {
		case a.ID:
			seen++
			if m["erased"] != true || m["body"] != "" {
				t.Errorf("alice's message = %v, want erased with an empty body", m)
			}
		case b.ID:
			seen++
			if _, ok := m["erased"]; ok || m["body"] != "from bob" {
				t.Errorf("bob's message = %v, want its body and no erased", m)
			}
		}
	}
	if seen != 2 {
		t.Errorf("list holds %d of the 2 messages: %v", seen, page)
	}
}
