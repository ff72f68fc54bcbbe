// Package chattest holds the conformance suite every chat.Store implementation must pass.
package chattest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
)

// NewStore returns an empty chat store for one test, and the key store of the key service that
// seals its bodies (see Cipher). It registers its own cleanup.
type NewStore func(t *testing.T) (chat.Store, keys.Store)

// Cipher returns a key service over the key store, with a master key file of the test's own.
func Cipher(t testing.TB, ks keys.Store) *keys.Service {
	t.Helper()
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatalf("master key: %v", err)
	}
	svc, err := keys.New(keys.Config{Store: ks, Master: master})
	if err != nil {
		t.Fatalf("key service: %v", err)
	}
	return svc
}

// subject is the store under test with the key service that seals its message bodies.
type subject struct {
	chat.Store
	cipher *keys.Service
}

// append stores m (m.Body is the plaintext) as a service would: sealed for its sender.
func (s subject) append(ctx context.Context, m chat.Message) (chat.Message, bool, error) {
	body, err := chat.NewBodySealer(ctx, s.cipher, m)
	if err != nil {
		return chat.Message{}, false, err
	}
	return s.AppendMessage(ctx, m, body)
}

// service returns a chat service on the store with no directory or publisher.
func (s subject) service() *chat.Service {
	return chat.NewService(chat.Deps{Store: s.Store, Cipher: s.cipher})
}

// body returns the plaintext of a stored message's body.
func (s subject) body(t *testing.T, m chat.Message) string {
	t.Helper()
	pt, err := s.cipher.Decrypt(context.Background(), m.TenantID, m.BodyCiphertext, chat.BodyContext(m.ConversationID, m.ID))
	if err != nil {
		t.Fatalf("decrypt body of %s: %v", m.ID, err)
	}
	return string(pt)
}

// RunStoreSuite runs the conformance suite against stores made by newStore.
func RunStoreSuite(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s subject)
	}{
		{"ConversationMembership", testConversationMembership},
		{"ListConversationsPages", testListConversationsPages},
		{"DirectOpenedOnceUnderRace", testDirectOpenedOnce},
		{"CreateReentrantByID", testCreateReentrant},
		{"AppendIdempotentUnderRace", testAppendIdempotent},
		{"AppendConflictingBody", testAppendConflict},
		{"SeqWithoutGapsUnderConcurrentSenders", testSeqNoGaps},
		{"ListMessagesRanges", testListMessagesRanges},
		{"ServicePagesMessagesBothWays", testServicePages},
		{"PublishedFlag", testPublishedFlag},
		{"MarkReadForwardClampedMembersOnly", testMarkRead},
		{"MarkReadMonotonicUnderRace", testMarkReadRace},
		{"UnreadCountsFollowSendsAndReads", testUnreadCounts},
		{"SystemReadsScopedToTenant", testSystemReads},
		{"ReencryptionPrimitives", testReencryptionPrimitives},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, ks := newStore(t)
			tt.run(t, subject{Store: store, cipher: Cipher(t, ks)})
		})
	}
}

var base = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// newID returns an id whose time part is base + n ms, so ids made with rising n sort in order.
func newID(prefix string, n int) string {
	return ids.Make(prefix, base.Add(time.Duration(n)*time.Millisecond), nil)
}

func group(tenantID string, n int, members ...string) chat.Conversation {
	return chat.Conversation{
		ID: newID(ids.Conversation, n), TenantID: tenantID, Type: chat.TypeGroup,
		Title: fmt.Sprintf("group %d", n), Members: members, CreatedBy: members[0], CreatedAt: base,
	}
}

func message(c chat.Conversation, sender, clientMsgID, body string) chat.Message {
	return chat.Message{
		ID: ids.Random{}.New(ids.Message), TenantID: c.TenantID, ConversationID: c.ID,
		SenderID: sender, ClientMsgID: clientMsgID, Body: body, CreatedAt: base,
	}
}

func mustCreate(t *testing.T, s subject, c chat.Conversation) chat.Conversation {
	t.Helper()
	stored, created, err := s.CreateConversation(context.Background(), c)
	if err != nil || !created {
		t.Fatalf("CreateConversation = created %v, err %v; want a new conversation", created, err)
	}
	return stored
}

func mustAppend(t *testing.T, s subject, m chat.Message) chat.Message {
	t.Helper()
	got, _, err := s.append(context.Background(), m)
	if err != nil {
		t.Fatalf("AppendMessage: %v", err)
	}
	return got
}

func testConversationMembership(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob, eve := newID(ids.User, 1), newID(ids.User, 2), newID(ids.User, 3)
	c := mustCreate(t, s, group("ten_a", 1, alice, bob))

	got, err := s.MemberConversation(ctx, "ten_a", c.ID, bob)
	if err != nil {
		t.Fatalf("MemberConversation(member): %v", err)
	}
	if got.ID != c.ID || got.Title != c.Title || !slices.Equal(got.Members, c.Members) ||
		got.CreatedBy != alice || !got.CreatedAt.Equal(c.CreatedAt) || got.Type != chat.TypeGroup {
		t.Errorf("MemberConversation = %+v, want %+v", got, c)
	}
	for _, tc := range []struct{ name, tenant, conv, user string }{
		{"non-member", "ten_a", c.ID, eve},
		{"other tenant", "ten_b", c.ID, bob},
		{"unknown conversation", "ten_a", newID(ids.Conversation, 99), bob},
	} {
		if _, err := s.MemberConversation(ctx, tc.tenant, tc.conv, tc.user); !errors.Is(err, chat.ErrConversationNotFound) {
			t.Errorf("%s: MemberConversation err = %v, want ErrConversationNotFound", tc.name, err)
		}
	}
}

func testListConversationsPages(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	var want []string
	for i := range 23 {
		c := mustCreate(t, s, group("ten_a", 100+i, alice, bob))
		want = append(want, c.ID)
	}
	// Noise: bob's other conversation and another tenant's with the same user id.
	mustCreate(t, s, group("ten_a", 200, bob))
	mustCreate(t, s, group("ten_b", 201, alice))
	slices.Reverse(want)

	var got []string
	before := ""
	for range 10 {
		page, err := s.ListConversations(ctx, "ten_a", alice, before, 5)
		if err != nil {
			t.Fatalf("ListConversations: %v", err)
		}
		for _, c := range page {
			got = append(got, c.ID)
			if c.TenantID != "ten_a" {
				t.Fatalf("conversation of tenant %q listed for ten_a", c.TenantID)
			}
		}
		if len(page) < 5 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged conversations = %v\nwant newest first %v", got, want)
	}
}

func testDirectOpenedOnce(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	const n = 20
	type result struct {
		c       chat.Conversation
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			members := []string{alice, bob}
			if i%2 == 1 {
				members = []string{bob, alice}
			}
			c := chat.Conversation{
				ID: ids.Random{}.New(ids.Conversation), TenantID: "ten_a", Type: chat.TypeDirect,
				Members: members, CreatedBy: members[0], CreatedAt: base,
			}
			results[i].c, results[i].created, results[i].err = s.OpenDirect(ctx, c)
		})
	}
	wg.Wait()

	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("OpenDirect %d: %v", i, r.err)
		}
		if r.c.ID != results[0].c.ID {
			t.Errorf("OpenDirect %d returned %s, another returned %s", i, r.c.ID, results[0].c.ID)
		}
		if r.created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d of %d racing opens reported created, want exactly 1", created, n)
	}
	for _, u := range []string{alice, bob} {
		list, err := s.ListConversations(ctx, "ten_a", u, "", 100)
		if err != nil {
			t.Fatalf("ListConversations: %v", err)
		}
		if len(list) != 1 || list[0].ID != results[0].c.ID {
			t.Errorf("%s sees %d conversations, want the one direct conversation", u, len(list))
		}
	}
	// Another tenant's pair of the same ids is a different conversation.
	other, created2, err := s.OpenDirect(ctx, chat.Conversation{
		ID: ids.Random{}.New(ids.Conversation), TenantID: "ten_b", Type: chat.TypeDirect,
		Members: []string{alice, bob}, CreatedBy: alice, CreatedAt: base,
	})
	if err != nil || !created2 || other.ID == results[0].c.ID {
		t.Errorf("OpenDirect in another tenant = %s, created %v, err %v; want a new conversation", other.ID, created2, err)
	}
}

// A second CreateConversation with the same id, as a retry after a stop makes it, returns the
// stored conversation instead of failing or making another.
func testCreateReentrant(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	first := mustCreate(t, s, group("ten_a", 1, alice, bob))

	retry := first
	retry.CreatedAt = base.Add(time.Hour)
	got, created, err := s.CreateConversation(ctx, retry)
	if err != nil || created {
		t.Fatalf("CreateConversation again = created %v, err %v; want the stored one", created, err)
	}
	if got.ID != first.ID || !got.CreatedAt.Equal(first.CreatedAt) || !slices.Equal(got.Members, first.Members) {
		t.Errorf("CreateConversation again = %+v, want the stored %+v", got, first)
	}
	list, err := s.ListConversations(ctx, "ten_a", bob, "", 10)
	if err != nil || len(list) != 1 {
		t.Errorf("bob sees %d conversations (err %v), want 1", len(list), err)
	}
}
