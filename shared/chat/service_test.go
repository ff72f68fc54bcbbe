package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/chat/chattest"
	"caas.dev/shared/clock"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
	"caas.dev/shared/kafka"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

// messagesTopic is the topic the functions publish to (CAAS_MESSAGES_TOPIC).
const messagesTopic = "caas.messages"

// users is a hand-written Directory: the service tests are about chat, not about how users
// are stored (package mongo tests its UserDirectory).
type users map[string]string // user id -> tenant id

func (u users) Missing(_ context.Context, tenantID string, userIDs []string) ([]string, error) {
	var out []string
	for _, id := range userIDs {
		if u[id] != tenantID {
			out = append(out, id)
		}
	}
	return out, nil
}

// newStore returns a migrated chat store and idempotency key store in databases of their own,
// the Mongo client they are on and the prefix of those databases' names.
func newStore(t testing.TB) (chat.Store, idempotency.Store, *mongo.Client, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := backendtest.Prefix(t)
	c, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return mongo.NewChatStore(c), mongo.NewIdempotencyKeys(c), c, prefix
}

func newPublisher(t testing.TB, brokers string) *kafka.Publisher {
	t.Helper()
	p, err := kafka.NewPublisher(brokers, messagesTopic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// deadBroker returns an address nothing listens on.
func deadBroker(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type fixture struct {
	store              chat.Store
	keys               idempotency.Store
	db                 *mongo.Client
	dbPrefix           string
	cipher             *keys.Service
	dir                users
	alice, bob, mallet string // mallet is in another tenant
}

func newFixture(t testing.TB) fixture {
	f := fixture{
		alice: ids.Random{}.New(ids.User), bob: ids.Random{}.New(ids.User), mallet: ids.Random{}.New(ids.User),
	}
	f.store, f.keys, f.db, f.dbPrefix = newStore(t)
	f.cipher = chattest.Cipher(t, f.db.Keys())
	f.dir = users{f.alice: "ten_a", f.bob: "ten_a", f.mallet: "ten_b"}
	return f
}

func (f fixture) service(pub chat.Publisher, c clock.Clock) *chat.Service {
	return chat.NewService(chat.Deps{Store: f.store, Directory: f.dir, Publisher: pub, Keys: f.keys, Cipher: f.cipher, Clock: c})
}

// readEvents reads the topic until it has seen every id in want, and returns the events.
func readEvents(t *testing.T, brokers string, want ...string) map[string]chat.MessageCreated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{brokers}, Topic: messagesTopic, MaxWait: 100 * time.Millisecond,
		GroupID: fmt.Sprintf("service-test-%d", time.Now().UnixNano()), StartOffset: kafkago.FirstOffset,
	})
	defer r.Close()
	got := map[string]chat.MessageCreated{}
	for !allIn(got, want) {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read events (have %d of %d): %v", len(got), len(want), err)
		}
		var ev chat.MessageCreated
		if err := json.Unmarshal(m.Value, &ev); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		if slices.Contains(want, ev.MessageID) {
			got[ev.MessageID] = ev
		}
	}
	return got
}

func allIn(got map[string]chat.MessageCreated, want []string) bool {
	for _, id := range want {
		if _, ok := got[id]; !ok {
			return false
		}
	}
	return true
}

// With Kafka down a send still succeeds and the message waits, unpublished, for the sweeper.
func TestSendWhileKafkaDownThenSweep(t *testing.T) {
	ctx := context.Background()
	brokers := backendtest.KafkaBrokers(t)
	f := newFixture(t)
	clk := clock.NewFixed(time.Now())
	down := f.service(newPublisher(t, deadBroker(t)), clk)

	conv, _, err := down.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeDirect, Members: []string{f.bob}}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	m, created, err := down.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "c1", Body: "hello"})
	if err != nil || !created {
		t.Fatalf("send with Kafka down = created %v, err %v; want it stored", created, err)
	}
	if m.Published {
		t.Fatal("message reported published while Kafka is down")
	}
	// Too young for the sweeper: nothing is attempted, so nothing fails either.
	if n, err := down.PublishPending(ctx); n != 0 || err != nil {
		t.Fatalf("sweep of a fresh message = %d, %v; want it left to its request", n, err)
	}

	clk.Advance(chat.PendingAge + time.Second)
	up := f.service(newPublisher(t, brokers), clk)
	n, err := up.PublishPending(ctx)
	if err != nil || n != 1 {
		t.Fatalf("PublishPending = %d, %v; want 1 published", n, err)
	}
	ev := readEvents(t, brokers, m.ID)[m.ID]
	want := chat.MessageCreated{
		Type: chat.EventMessageCreated, TenantID: "ten_a", ConversationID: conv.ID, MessageID: m.ID,
		Seq: 1, SenderID: f.alice, BodyCiphertext: m.BodyCiphertext, CreatedAt: chat.FormatTime(m.CreatedAt),
	}
	if ev != want || m.BodyCiphertext == "" {
		t.Errorf("event = %+v, want %+v", ev, want)
	}
	// The event carries the body sealed for its message, never the plaintext.
	pt, err := f.cipher.Decrypt(ctx, "ten_a", ev.BodyCiphertext, chat.BodyContext(conv.ID, m.ID))
	if err != nil || string(pt) != "hello" {
		t.Errorf("event body opens to %q, %v; want hello", pt, err)
	}
	if n, err := up.PublishPending(ctx); err != nil || n != 0 {
		t.Errorf("second sweep published %d (err %v), want 0", n, err)
	}
}

// A client's retry publishes a message that Kafka missed the first time.
func TestRetryPublishesUnpublished(t *testing.T) {
	ctx := context.Background()
	brokers := backendtest.KafkaBrokers(t)
	f := newFixture(t)
	clk := clock.NewFixed(time.Now())
	down := f.service(newPublisher(t, deadBroker(t)), clk)
	up := f.service(newPublisher(t, brokers), clk)

	conv, _, err := up.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeGroup, Title: "g", Members: []string{f.bob}}, idempotency.Request{})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := down.SendMessage(ctx, "ten_a", f.bob, conv.ID, chat.NewMessage{ClientMsgID: "r1", Body: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	again, created, err := up.SendMessage(ctx, "ten_a", f.bob, conv.ID, chat.NewMessage{ClientMsgID: "r1", Body: "hi"})
	if err != nil || created || again.ID != first.ID || !again.Published {
		t.Fatalf("retry = %s created %v published %v err %v; want the first message, now published",
			again.ID, created, again.Published, err)
	}
	readEvents(t, brokers, first.ID)
	clk.Advance(time.Minute)
	if n, err := up.PublishPending(ctx); err != nil || n != 0 {
		t.Errorf("sweep after the retry published %d (err %v), want 0", n, err)
	}
}

func TestServiceRules(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	conv, created, err := svc.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeGroup, Title: "g", Members: []string{f.bob}}, idempotency.Request{})
	if err != nil || !created {
		t.Fatalf("create group: %v", err)
	}
	if conv.CreatedBy != f.alice || !slices.Equal(conv.Members, []string{f.alice, f.bob}) {
		t.Errorf("group = %+v", conv)
	}
	msg := chat.NewMessage{ClientMsgID: "x", Body: "hi"}

	tests := []struct {
		name string
		err  func() error
		want error
	}{
		{"member of another tenant", func() error {
			_, _, err := svc.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeDirect, Members: []string{f.mallet}}, idempotency.Request{})
			return err
		}, chat.ErrUnknownMembers},
		{"unknown member", func() error {
			_, _, err := svc.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeGroup, Title: "t", Members: []string{ids.Random{}.New(ids.User)}}, idempotency.Request{})
			return err
		}, chat.ErrUnknownMembers},
		{"send by another tenant", func() error {
			_, _, err := svc.SendMessage(ctx, "ten_b", f.mallet, conv.ID, msg)
			return err
		}, chat.ErrConversationNotFound},
		{"read by another tenant", func() error {
			_, err := svc.ListMessages(ctx, "ten_b", f.mallet, conv.ID, chat.MessageQuery{Limit: 10})
			return err
		}, chat.ErrConversationNotFound},
		{"ill-formed conversation id", func() error {
			_, _, err := svc.SendMessage(ctx, "ten_a", f.alice, "nope", msg)
			return err
		}, chat.ErrConversationNotFound},
		{"unknown conversation", func() error {
			_, err := svc.ListMessages(ctx, "ten_a", f.alice, ids.Random{}.New(ids.Conversation), chat.MessageQuery{Limit: 10})
			return err
		}, chat.ErrConversationNotFound},
		{"bad conversation cursor", func() error {
			_, err := svc.ListConversations(ctx, "ten_a", f.alice, "bm9wZQ", 10)
			return err
		}, chat.ErrInvalidCursor},
		{"message cursor of another conversation", func() error {
			other, _, _ := svc.CreateConversation(ctx, "ten_a", f.alice, chat.NewConversation{Type: chat.TypeGroup, Title: "o", Members: []string{}}, idempotency.Request{})
			for i := range 3 {
				_, _, _ = svc.SendMessage(ctx, "ten_a", f.alice, other.ID, chat.NewMessage{ClientMsgID: fmt.Sprint(i), Body: "b"})
			}
			page, _ := svc.ListMessages(ctx, "ten_a", f.alice, other.ID, chat.MessageQuery{Limit: 1})
			_, err := svc.ListMessages(ctx, "ten_a", f.alice, conv.ID, chat.MessageQuery{Cursor: page.NextCursor, Limit: 1})
			return err
		}, chat.ErrInvalidCursor},
		{"same key, other body", func() error {
			if _, _, err := svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "k", Body: "one"}); err != nil {
				return err
			}
			_, _, err := svc.SendMessage(ctx, "ten_a", f.alice, conv.ID, chat.NewMessage{ClientMsgID: "k", Body: "two"})
			return err
		}, chat.ErrIdempotencyConflict},
	}
	for _, tt := range tests {
		if err := tt.err(); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestDirectOpenedOnceThroughService(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service(newPublisher(t, backendtest.KafkaBrokers(t)), clock.System{})
	var created atomic.Int32
	convIDs := make([]string, 20)
	var wg sync.WaitGroup
	for i := range convIDs {
		wg.Go(func() {
			caller, other := f.alice, f.bob
			if i%2 == 1 {
				caller, other = f.bob, f.alice
			}
			c, isNew, err := svc.CreateConversation(ctx, "ten_a", caller, chat.NewConversation{Type: chat.TypeDirect, Members: []string{other}}, idempotency.Request{})
			if err != nil {
				t.Error(err)
				return
			}
			if isNew {
				created.Add(1)
			}
			convIDs[i] = c.ID
		})
	}
	wg.Wait()
	distinct := slices.Compact(slices.Sorted(slices.Values(convIDs)))
	if created.Load() != 1 || len(distinct) != 1 {
		t.Errorf("20 racing opens: %d created, ids %v; want one conversation", created.Load(), distinct)
	}
	page, err := svc.ListConversations(ctx, "ten_a", f.bob, "", 20)
	if err != nil || len(page.Items) != 1 || page.NextCursor != "" {
		t.Errorf("bob's list = %d items, cursor %q, err %v; want the one conversation", len(page.Items), page.NextCursor, err)
	}
}
