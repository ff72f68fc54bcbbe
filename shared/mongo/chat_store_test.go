package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/chat/chattest"
	"caas.dev/shared/ids"
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
	chattest.RunStoreSuite(t, func(t *testing.T) chat.Store {
		return NewChatStore(openChatTestClient(t))
	})
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
	s := NewChatStore(openChatTestClient(t))
	alice := ids.Random{}.New(ids.User)
	conv := ids.Random{}.New(ids.Conversation)
	firstID := ids.Random{}.New(ids.Message)
	sum := sha256.Sum256([]byte("hello"))
	if _, err := s.keys.InsertOne(ctx, messageKeyDoc{
		ID: "ten_a|" + conv + "|" + alice + "|k1", TenantID: "ten_a", MessageID: firstID,
		BodySHA256: hex.EncodeToString(sum[:]),
	}); err != nil {
		t.Fatal(err)
	}

	m := chat.Message{
		ID: ids.Random{}.New(ids.Message), TenantID: "ten_a", ConversationID: conv, SenderID: alice,
		ClientMsgID: "k1", Body: "hello", CreatedAt: time.Now().UTC().Truncate(time.Millisecond),
	}
	got, _, err := s.AppendMessage(ctx, m)
	if err != nil {
		t.Fatalf("AppendMessage: %v", err)
	}
	if got.ID != firstID || got.Seq != 1 {
		t.Errorf("retry stored %s seq %d, want the first attempt's id %s with seq 1", got.ID, got.Seq, firstID)
	}
	again, created, err := s.AppendMessage(ctx, m)
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
