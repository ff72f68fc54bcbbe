package chattest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
)

// Stores are the stores conversation creation with an Idempotency-Key uses.
type Stores struct {
	Chat chat.Store
	Keys idempotency.Store
}

// NewStores returns empty stores for one test. It registers its own cleanup.
type NewStores func(t *testing.T) Stores

// RunIdempotencySuite runs chat.Service.CreateConversation with Idempotency-Keys against stores
// made by newStores: a repeat answers the first conversation, a different request conflicts,
// racing repeats make one conversation, and a retry after a stop completes the remembered one.
func RunIdempotencySuite(t *testing.T, newStores NewStores) {
	tests := []struct {
		name string
		run  func(t *testing.T, s Stores)
	}{
		{"ReplayReturnsTheSameConversation", testKeyReplay},
		{"DirectReplayAnswersAsTheFirst", testKeyDirectReplay},
		{"DifferentRequestConflicts", testKeyConflict},
		{"ConcurrentRepeatsMakeOne", testKeyRace},
		{"RetryAfterStopCompletesRememberedID", testKeyRetryAfterStop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newStores(t))
		})
	}
}

// everyone is a Directory in which every user id is a user of every tenant.
type everyone struct{}

func (everyone) Missing(context.Context, string, []string) ([]string, error) { return nil, nil }

func service(s Stores, store chat.Store) *chat.Service {
	return chat.NewService(chat.Deps{Store: store, Directory: everyone{}, Keys: s.Keys, Clock: clock.System{}})
}

// keyed returns the idempotency of a POST /v1/conversations with body in and the given key.
func keyed(t *testing.T, key string, in chat.NewConversation) idempotency.Request {
	t.Helper()
	sum, err := idempotency.Fingerprint("POST", "/v1/conversations", in)
	if err != nil {
		t.Fatal(err)
	}
	return idempotency.Request{Key: key, RequestSHA256: sum}
}

// conversationIDs returns the ids of userID's conversations.
func conversationIDs(t *testing.T, s chat.Store, tenantID, userID string) []string {
	t.Helper()
	list, err := s.ListConversations(context.Background(), tenantID, userID, "", 100)
	if err != nil {
		t.Fatalf("ListConversations: %v", err)
	}
	var out []string
	for _, c := range list {
		out = append(out, c.ID)
	}
	return out
}

func testKeyReplay(t *testing.T, s Stores) {
	ctx := context.Background()
	svc := service(s, s.Chat)
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	in := chat.NewConversation{Type: chat.TypeGroup, Title: "Team", Members: []string{bob}}

	first, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "key-1", in))
	if err != nil || !created {
		t.Fatalf("first create = created %v, err %v", created, err)
	}
	again, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "key-1", in))
	if err != nil || !created {
		t.Fatalf("repeat = created %v, err %v; want the first answer again (created)", created, err)
	}
	if again.ID != first.ID || !again.CreatedAt.Equal(first.CreatedAt) || again.Title != first.Title ||
		!slices.Equal(again.Members, first.Members) {
		t.Errorf("repeat = %+v, want the first %+v", again, first)
	}
	if got := conversationIDs(t, s.Chat, "ten_a", bob); !slices.Equal(got, []string{first.ID}) {
		t.Errorf("bob's conversations = %v, want only %s", got, first.ID)
	}

	// The key is scoped to the caller and the tenant: elsewhere it makes another conversation.
	other, _, err := svc.CreateConversation(ctx, "ten_a", bob, chat.NewConversation{Type: chat.TypeGroup, Title: "Team", Members: []string{alice}},
		keyed(t, "key-1", chat.NewConversation{Type: chat.TypeGroup, Title: "Team", Members: []string{alice}}))
	if err != nil || other.ID == first.ID {
		t.Errorf("bob with alice's key = %s, err %v; want a conversation of his own", other.ID, err)
	}
	elsewhere, _, err := svc.CreateConversation(ctx, "ten_b", alice, in, keyed(t, "key-1", in))
	if err != nil || elsewhere.ID == first.ID || elsewhere.TenantID != "ten_b" {
		t.Errorf("the key in another tenant = %+v, err %v; want that tenant's own conversation", elsewhere, err)
	}
}

func testKeyDirectReplay(t *testing.T, s Stores) {
	ctx := context.Background()
	svc := service(s, s.Chat)
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	in := chat.NewConversation{Type: chat.TypeDirect, Members: []string{bob}}

	first, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "d-1", in))
	if err != nil || !created {
		t.Fatalf("first open = created %v, err %v; want it created", created, err)
	}
	again, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "d-1", in))
	if err != nil || !created || again.ID != first.ID {
		t.Errorf("repeat = %s created %v err %v; want %s created, as the first answered", again.ID, created, err, first.ID)
	}
	// A new key for the pair opens the existing conversation, and its repeat says so again.
	for range 2 {
		opened, created, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "d-2", in))
		if err != nil || created || opened.ID != first.ID {
			t.Errorf("open with a new key = %s created %v err %v; want %s opened, not created", opened.ID, created, err, first.ID)
		}
	}
}

func testKeyConflict(t *testing.T, s Stores) {
	ctx := context.Background()
	svc := service(s, s.Chat)
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	in := chat.NewConversation{Type: chat.TypeGroup, Title: "Team", Members: []string{bob}}
	first, _, err := svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "k", in))
	if err != nil {
		t.Fatal(err)
	}

	changed := in
	changed.Title = "Other team"
	if _, _, err := svc.CreateConversation(ctx, "ten_a", alice, changed, keyed(t, "k", changed)); !errors.Is(err, idempotency.ErrConflict) {
		t.Errorf("same key, other title: err = %v, want idempotency.ErrConflict", err)
	}
	direct := chat.NewConversation{Type: chat.TypeDirect, Members: []string{bob}}
	if _, _, err := svc.CreateConversation(ctx, "ten_a", alice, direct, keyed(t, "k", direct)); !errors.Is(err, idempotency.ErrConflict) {
		t.Errorf("same key, a direct conversation: err = %v, want idempotency.ErrConflict", err)
	}
	if got := conversationIDs(t, s.Chat, "ten_a", alice); !slices.Equal(got, []string{first.ID}) {
		t.Errorf("alice's conversations after the conflicts = %v, want only %s", got, first.ID)
	}
}

func testKeyRace(t *testing.T, s Stores) {
	ctx := context.Background()
	svc := service(s, s.Chat)
	alice, bob, carol := newID(ids.User, 1), newID(ids.User, 2), newID(ids.User, 3)
	in := chat.NewConversation{Type: chat.TypeGroup, Title: "Race", Members: []string{bob, carol}}

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
			results[i].c, results[i].created, results[i].err = svc.CreateConversation(ctx, "ten_a", alice, in, keyed(t, "race", in))
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		if r.c.ID != results[0].c.ID || !r.created || len(r.c.Members) != 3 {
			t.Errorf("request %d = %s created %v members %d; want %s created with 3 members",
				i, r.c.ID, r.created, len(r.c.Members), results[0].c.ID)
		}
	}
	for _, u := range []string{alice, bob, carol} {
		if got := conversationIDs(t, s.Chat, "ten_a", u); !slices.Equal(got, []string{results[0].c.ID}) {
			t.Errorf("%s sees %v, want the one conversation %s", u, got, results[0].c.ID)
		}
	}
}

// stopping is a chat.Store whose creating methods record the conversation they were asked for
// and fail before writing it, as a function that stops after claiming the key would.
type stopping struct {
	chat.Store
	mu    sync.Mutex
	asked []chat.Conversation
}

var errStopped = errors.New("stopped before writing")

func (s *stopping) CreateConversation(_ context.Context, c chat.Conversation) (chat.Conversation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, c)
	return chat.Conversation{}, false, errStopped
}

func (s *stopping) OpenDirect(ctx context.Context, c chat.Conversation) (chat.Conversation, bool, error) {
	return s.CreateConversation(ctx, c)
}

func testKeyRetryAfterStop(t *testing.T, s Stores) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	for _, in := range []chat.NewConversation{
		{Type: chat.TypeGroup, Title: "Stopped", Members: []string{bob}},
		{Type: chat.TypeDirect, Members: []string{bob}},
	} {
		crashed := &stopping{Store: s.Chat}
		key := "stop-" + in.Type
		if _, _, err := service(s, crashed).CreateConversation(ctx, "ten_a", alice, in, keyed(t, key, in)); !errors.Is(err, errStopped) {
			t.Fatalf("%s: the stopping attempt = %v, want it to stop", in.Type, err)
		}
		if len(crashed.asked) != 1 {
			t.Fatalf("%s: the stopping store was asked %d times", in.Type, len(crashed.asked))
		}
		remembered := crashed.asked[0]

		got, created, err := service(s, s.Chat).CreateConversation(ctx, "ten_a", alice, in, keyed(t, key, in))
		if err != nil || !created {
			t.Fatalf("%s: retry = created %v, err %v", in.Type, created, err)
		}
		if got.ID != remembered.ID || !got.CreatedAt.Equal(remembered.CreatedAt) {
			t.Errorf("%s: retry made %s at %v, want the remembered %s at %v",
				in.Type, got.ID, got.CreatedAt, remembered.ID, remembered.CreatedAt)
		}
		if _, err := s.Chat.MemberConversation(ctx, "ten_a", remembered.ID, bob); err != nil {
			t.Errorf("%s: bob is not a member of the completed conversation: %v", in.Type, err)
		}
		if !strings.HasPrefix(got.ID, ids.Conversation+"_") {
			t.Errorf("%s: id %q", in.Type, got.ID)
		}
	}
}
