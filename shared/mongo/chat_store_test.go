package mongo

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/chat/chattest"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
)

// openChatTestClient connects to the test server with databases of its own, migrated;
// backendtest drops them when the test ends.
func openChatTestClient(t testing.TB) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := OpenWithPrefix(ctx, backendtest.MongoURI(t), backendtest.Prefix(t))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	return c
}

func TestChatStoreConformance(t *testing.T) {
	chattest.RunStoreSuite(t, func(t *testing.T) (chat.Store, keys.Store) {
		c := openChatTestClient(t)
		return NewChatStore(c), c.Keys()
	})
}

func TestChatIdempotencyConformance(t *testing.T) {
	chattest.RunIdempotencySuite(t, func(t *testing.T) chattest.Stores {
		c := openChatTestClient(t)
		return chattest.Stores{Chat: NewChatStore(c), Keys: NewIdempotencyKeys(c)}
	})
}

// A creator that stopped after claiming the key and writing some memberships leaves a
// conversation no member can see; the retry with the same key completes it under the
// remembered id, with every member.
func TestCreateConversationCompletesHalfwayCreation(t *testing.T) {
	ctx := context.Background()
	c := openChatTestClient(t)
	s := NewChatStore(c)
	alice, bob, carol := ids.Random{}.New(ids.User), ids.Random{}.New(ids.User), ids.Random{}.New(ids.User)
	in := chat.NewConversation{Type: chat.TypeGroup, Title: "Halfway", Members: []string{bob, carol}}
	sum, err := idempotency.Fingerprint("POST", "/v1/conversations", in)
	if err != nil {
		t.Fatal(err)
	}
	retry := idempotency.Request{Key: "k1", RequestSHA256: sum}
	remembered := ids.Random{}.New(ids.Conversation)
	at := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
	if _, claimed, err := NewIdempotencyKeys(c).Claim(ctx, idempotency.Claim{
		Scope: "conversations.create|ten_a|" + alice, Key: "k1", RequestSHA256: sum, ResourceID: remembered, CreatedAt: at,
	}); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	// Memberships of alice and bob only: the stop came in the middle of the insert.
	if err := s.ensureMembers(ctx, chat.Conversation{ID: remembered, TenantID: "ten_a", Members: []string{alice, bob}, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MemberConversation(ctx, "ten_a", remembered, bob); !errors.Is(err, chat.ErrConversationNotFound) {
		t.Errorf("half-made conversation visible to bob: %v", err)
	}
	if list, err := s.ListConversations(ctx, "ten_a", alice, "", 10); err != nil || len(list) != 0 {
		t.Errorf("half-made conversation listed for alice: %v %v", list, err)
	}

	svc := chat.NewService(chat.Deps{Store: s, Directory: everyoneDirectory{}, Keys: NewIdempotencyKeys(c)})
	got, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, retry)
	if err != nil || !created {
		t.Fatalf("retry: created %v err %v", created, err)
	}
	if got.ID != remembered || !got.CreatedAt.Equal(at) {
		t.Errorf("retry made %s at %v, want the remembered %s at %v", got.ID, got.CreatedAt, remembered, at)
	}
	for _, u := range []string{alice, bob, carol} {
		if _, err := s.MemberConversation(ctx, "ten_a", remembered, u); err != nil {
			t.Errorf("%s is not a member of the completed conversation: %v", u, err)
		}
	}
}

// A page of conversations is filled past memberships whose conversation is missing.
func TestListConversationsSkipsHalfMadeConversations(t *testing.T) {
	ctx := context.Background()
	s := NewChatStore(openChatTestClient(t))
	alice := ids.Random{}.New(ids.User)
	at := time.Now().UTC().Truncate(time.Millisecond)
	var want []string
	for i := range 6 {
		id := ids.Make(ids.Conversation, at.Add(time.Duration(i)*time.Millisecond), nil)
		conv := chat.Conversation{ID: id, TenantID: "ten_a", Type: chat.TypeGroup, Title: "t", Members: []string{alice}, CreatedBy: alice, CreatedAt: at}
		if i%2 == 0 {
			// Only the membership: its creator stopped before the conversation.
			if err := s.ensureMembers(ctx, conv); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, _, err := s.CreateConversation(ctx, conv); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
	}
	var got []string
	before := ""
	for range 5 {
		page, err := s.ListConversations(ctx, "ten_a", alice, before, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
}

// everyoneDirectory is a chat.Directory in which every user exists.
type everyoneDirectory struct{}

func (everyoneDirectory) Missing(context.Context, string, []string) ([]string, error) {
	return nil, nil
}

// A creator that stopped after claiming the pair leaves a claim without a conversation; the
// next open completes the creation under the claimed id.
func TestOpenDirectCompletesHalfwayCreation(t *testing.T) {
	ctx := context.Background()
	c := openChatTestClient(t)
	s := NewChatStore(c)
	alice, bob := ids.Random{}.New(ids.User), ids.Random{}.New(ids.User)
	claimed := ids.Random{}.New(ids.Conversation)
	pair := []string{alice, bob}
	slices.Sort(pair)
	if _, err := s.pairs.InsertOne(ctx, directPairDoc{
		ID: "ten_a|" + pair[0] + "|" + pair[1], TenantID: "ten_a", ConversationID: claimed,
	}); err != nil {
		t.Fatal(err)
	}

	got, created, err := s.OpenDirect(ctx, chat.Conversation{
		ID: ids.Random{}.New(ids.Conversation), TenantID: "ten_a", Type: chat.TypeDirect,
		Members: []string{bob, alice}, CreatedBy: bob, CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	})
	if err != nil {
		t.Fatalf("OpenDirect: %v", err)
	}
	if got.ID != claimed || !created {
		t.Errorf("OpenDirect = %s created %v, want the claimed id %s, created now", got.ID, created, claimed)
	}
	if _, err := s.MemberConversation(ctx, "ten_a", claimed, alice); err != nil {
		t.Errorf("alice is not a member of the completed conversation: %v", err)
	}
}

// A sender that stopped after claiming the message key leaves a key without a message; the
// client's retry stores the message under the id chosen first, once.
func TestAppendMessageCompletesHalfwaySend(t *testing.T) {
	ctx := context.Background()
	c := openChatTestClient(t)
	s := NewChatStore(c)
	cipher := chattest.Cipher(t, c.Keys())
	alice := ids.Random{}.New(ids.User)
	conv := ids.Random{}.New(ids.Conversation)
	firstID := ids.Random{}.New(ids.Message)
	m := chat.Message{
		ID: ids.Random{}.New(ids.Message), TenantID: "ten_a", ConversationID: conv, SenderID: alice,
		ClientMsgID: "k1", Body: "hello", CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	body, err := chat.NewBodySealer(ctx, cipher, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.keys.InsertOne(ctx, messageKeyDoc{
		ID: "ten_a|" + conv + "|" + alice + "|k1", TenantID: "ten_a", MessageID: firstID, BodyMAC: body.MAC(),
	}); err != nil {
		t.Fatal(err)
	}

	got, _, err := s.AppendMessage(ctx, m, body)
	if err != nil {
		t.Fatalf("AppendMessage: %v", err)
	}
	if got.ID != firstID || got.Seq != 1 {
		t.Errorf("retry stored %s seq %d, want the first attempt's id %s with seq 1", got.ID, got.Seq, firstID)
	}
	// The body is sealed for the id the store settled on, not the one the retry chose.
	pt, err := cipher.Decrypt(ctx, "ten_a", got.BodyCiphertext, chat.BodyContext(conv, firstID))
	if err != nil || string(pt) != "hello" {
		t.Errorf("stored body = %q, %v; want hello sealed for %s", pt, err, firstID)
	}
	again, created, err := s.AppendMessage(ctx, m, body)
	if err != nil || created || again.ID != firstID {
		t.Errorf("second retry = %s created %v err %v, want the same message", again.ID, created, err)
	}
}

func TestUserDirectoryMissing(t *testing.T) {
	ctx := context.Background()
	c := openChatTestClient(t)
	d := NewUserDirectory(c)
	alice, bob, eve := ids.Random{}.New(ids.User), ids.Random{}.New(ids.User), ids.Random{}.New(ids.User)
	_, err := c.platform.Collection("users").InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: alice}, {Key: "tenant_id", Value: "ten_a"}, {Key: "email", Value: "a@x"}},
		bson.D{{Key: "_id", Value: bob}, {Key: "tenant_id", Value: "ten_a"}, {Key: "email", Value: "b@x"}},
		bson.D{{Key: "_id", Value: eve}, {Key: "tenant_id", Value: "ten_b"}, {Key: "email", Value: "e@x"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	unknown := ids.Random{}.New(ids.User)

	tests := []struct {
		name   string
		tenant string
		in     []string
		want   []string
	}{
		{"all present", "ten_a", []string{alice, bob}, nil},
		{"other tenant's user", "ten_a", []string{alice, eve}, []string{eve}},
		{"unknown, order kept", "ten_a", []string{unknown, bob, eve}, []string{unknown, eve}},
		{"seen from the other tenant", "ten_b", []string{alice, eve}, []string{alice}},
		{"empty", "ten_a", nil, nil},
	}
	for _, tt := range tests {
		got, err := d.Missing(ctx, tt.tenant, tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Missing = %v, want %v", tt.name, got, tt.want)
		}
	}
}
