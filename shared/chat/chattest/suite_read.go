package chattest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"caas.dev/shared/chat"
	"caas.dev/shared/ids"
)

// markRead returns svc.MarkRead's answer, failing the test on an error.
func markRead(t *testing.T, svc *chat.Service, tenantID, userID, convID string, seq int64) chat.ReadState {
	t.Helper()
	st, err := svc.MarkRead(context.Background(), tenantID, userID, convID, seq)
	if err != nil {
		t.Fatalf("MarkRead(%d): %v", seq, err)
	}
	return st
}

// testMarkRead moves a read position forward only, clamps it to the last message and keeps
// it to members of the tenant.
func testMarkRead(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob, eve := newID(ids.User, 1), newID(ids.User, 2), newID(ids.User, 3)
	c := mustCreate(t, s, group("ten_a", 1, alice, bob))
	empty := mustCreate(t, s, group("ten_a", 2, alice, bob))
	fill(t, s, c, 10)
	svc := s.service()

	steps := []struct {
		seq  int64
		want chat.ReadState
	}{
		{5, chat.ReadState{ConversationID: c.ID, ReadSeq: 5, LastSeq: 10, Unread: 5}},
		{3, chat.ReadState{ConversationID: c.ID, ReadSeq: 5, LastSeq: 10, Unread: 5}},
		{0, chat.ReadState{ConversationID: c.ID, ReadSeq: 5, LastSeq: 10, Unread: 5}},
		{7, chat.ReadState{ConversationID: c.ID, ReadSeq: 7, LastSeq: 10, Unread: 3}},
		{99, chat.ReadState{ConversationID: c.ID, ReadSeq: 10, LastSeq: 10, Unread: 0}},
		{9, chat.ReadState{ConversationID: c.ID, ReadSeq: 10, LastSeq: 10, Unread: 0}},
	}
	for _, st := range steps {
		if got := markRead(t, svc, "ten_a", bob, c.ID, st.seq); got != st.want {
			t.Errorf("MarkRead(%d) = %+v, want %+v", st.seq, got, st.want)
		}
	}
	// Bob's reading is his own.
	if got := markRead(t, svc, "ten_a", alice, c.ID, 0); got.ReadSeq != 0 || got.Unread != 10 {
		t.Errorf("alice after bob read: %+v, want read 0, unread 10", got)
	}
	// Nothing to read: a position past the end of an empty conversation stays at 0.
	if got := markRead(t, svc, "ten_a", bob, empty.ID, 4); got.ReadSeq != 0 || got.LastSeq != 0 || got.Unread != 0 {
		t.Errorf("MarkRead on an empty conversation = %+v, want all 0", got)
	}

	if _, err := svc.MarkRead(ctx, "ten_a", bob, c.ID, -1); !errors.Is(err, chat.ErrInvalidReadSeq) {
		t.Errorf("MarkRead(-1) err = %v, want ErrInvalidReadSeq", err)
	}
	for _, tc := range []struct{ name, tenant, user, conv string }{
		{"non-member", "ten_a", eve, c.ID},
		{"other tenant", "ten_b", bob, c.ID},
		{"unknown conversation", "ten_a", bob, newID(ids.Conversation, 99)},
		{"ill-formed id", "ten_a", bob, "not-an-id"},
	} {
		if _, err := svc.MarkRead(ctx, tc.tenant, tc.user, tc.conv, 1); !errors.Is(err, chat.ErrConversationNotFound) {
			t.Errorf("%s: MarkRead err = %v, want ErrConversationNotFound", tc.name, err)
		}
	}
	// The refused calls moved nothing.
	if got := markRead(t, svc, "ten_a", alice, c.ID, 0); got.ReadSeq != 0 {
		t.Errorf("alice's position = %d after refused calls, want 0", got.ReadSeq)
	}
}

// testMarkReadRace races MarkRead calls of one member and checks the position ends at the
// highest: the store keeps it monotonic although updates need not be atomic.
func testMarkReadRace(t *testing.T, s subject) {
	ctx := context.Background()
	alice := newID(ids.User, 1)
	c := mustCreate(t, s, group("ten_a", 1, alice))
	fill(t, s, c, 40)
	for round := range 5 {
		var wg sync.WaitGroup
		top := int64(8 * (round + 1))
		for seq := top - 7; seq <= top; seq++ {
			wg.Go(func() {
				if err := s.MarkRead(ctx, "ten_a", c.ID, alice, seq); err != nil {
					t.Errorf("MarkRead(%d): %v", seq, err)
				}
			})
		}
		wg.Wait()
		acts, err := s.Activity(ctx, "ten_a", alice, []string{c.ID})
		if err != nil {
			t.Fatalf("Activity: %v", err)
		}
		if got := acts[c.ID].ReadSeq; got != top {
			t.Errorf("round %d: position %d after racing marks up to %d", round, got, top)
		}
	}
}

// testUnreadCounts follows the caller's unread counts in its conversation list as messages
// arrive and as pages are read.
func testUnreadCounts(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	c := mustCreate(t, s, group("ten_a", 1, alice, bob))
	quiet := mustCreate(t, s, group("ten_a", 2, alice, bob))
	svc := s.service()

	activity := func(userID string) map[string]chat.Activity {
		t.Helper()
		page, err := svc.ListConversations(ctx, "ten_a", userID, "", 10)
		if err != nil {
			t.Fatalf("ListConversations: %v", err)
		}
		if len(page.Items) != 2 || len(page.Activity) != 2 {
			t.Fatalf("listed %d conversations with %d activities, want 2 and 2", len(page.Items), len(page.Activity))
		}
		return page.Activity
	}
	unread := func(userID string) int64 { t.Helper(); return activity(userID)[c.ID].Unread() }

	if a := activity(alice); a[c.ID] != (chat.Activity{}) || a[quiet.ID] != (chat.Activity{}) {
		t.Errorf("activity before any message = %+v, want zeros", a)
	}
	// Sent through the store, bob's messages leave his own position alone.
	fill(t, s, chat.Conversation{ID: c.ID, TenantID: "ten_a", Members: []string{bob}}, 3)
	a := activity(alice)[c.ID]
	if a.LastSeq != 3 || a.ReadSeq != 0 || a.Unread() != 3 || !a.LastMessageAt.Equal(base) {
		t.Errorf("alice after 3 messages: %+v, want last 3 at %v, read 0", a, base)
	}
	if q := activity(alice)[quiet.ID]; q != (chat.Activity{}) {
		t.Errorf("quiet conversation: %+v, want zeros", q)
	}

	// Reading the newest page reads up to its newest message.
	if _, err := svc.ListMessages(ctx, "ten_a", alice, c.ID, chat.MessageQuery{Limit: 2}); err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if got := unread(alice); got != 0 {
		t.Errorf("alice unread after reading the newest page = %d, want 0", got)
	}
	if got := unread(bob); got != 3 {
		t.Errorf("bob unread = %d, want 3: alice's reading is not his", got)
	}
	mustAppend(t, s, message(c, bob, "late", "late"))
	if got := unread(alice); got != 1 {
		t.Errorf("alice unread after one more message = %d, want 1", got)
	}
	// An older page does not move the position back.
	before := int64(2)
	if _, err := svc.ListMessages(ctx, "ten_a", alice, c.ID, chat.MessageQuery{Before: &before, Limit: 5}); err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if got := activity(alice)[c.ID]; got.ReadSeq != 3 || got.Unread() != 1 {
		t.Errorf("alice after reading an older page: %+v, want read 3, unread 1", got)
	}
	// A forward page moves it on.
	after := int64(3)
	if _, err := svc.ListMessages(ctx, "ten_a", alice, c.ID, chat.MessageQuery{After: &after, Limit: 5}); err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if got := unread(alice); got != 0 {
		t.Errorf("alice unread after reading forward = %d, want 0", got)
	}
	// A non-member's list is not served, and reading it moves nothing.
	if _, err := svc.ListMessages(ctx, "ten_b", alice, c.ID, chat.MessageQuery{Limit: 5}); !errors.Is(err, chat.ErrConversationNotFound) {
		t.Errorf("another tenant's ListMessages err = %v, want ErrConversationNotFound", err)
	}
	if acts, err := s.Activity(ctx, "ten_b", alice, []string{c.ID}); err != nil || acts[c.ID] != (chat.Activity{}) {
		t.Errorf("another tenant sees activity %+v (err %v), want zeros", acts[c.ID], err)
	}
}

// testSystemReads covers the reads the platform makes without a caller: members, a message,
// a user's conversation ids, and the membership check; each within one tenant.
func testSystemReads(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob, eve := newID(ids.User, 1), newID(ids.User, 2), newID(ids.User, 3)
	c1 := mustCreate(t, s, group("ten_a", 1, alice, bob))
	c2 := mustCreate(t, s, group("ten_a", 2, alice))
	mustCreate(t, s, group("ten_b", 3, alice))
	m := mustAppend(t, s, message(c1, bob, "k", "hello"))
	svc := s.service()

	if got, err := svc.Members(ctx, "ten_a", c1.ID); err != nil || !slices.Equal(got, []string{alice, bob}) {
		t.Errorf("Members = %v (err %v), want [alice bob]", got, err)
	}
	for _, tc := range []struct{ tenant, conv string }{{"ten_b", c1.ID}, {"ten_a", newID(ids.Conversation, 99)}, {"ten_a", "x"}} {
		if _, err := svc.Members(ctx, tc.tenant, tc.conv); !errors.Is(err, chat.ErrConversationNotFound) {
			t.Errorf("Members(%s, %s) err = %v, want ErrConversationNotFound", tc.tenant, tc.conv, err)
		}
	}

	got, err := svc.Message(ctx, "ten_a", m.ID)
	if err != nil || got.ID != m.ID || got.Body != "hello" || got.Seq != 1 || got.SenderID != bob || got.ConversationID != c1.ID {
		t.Errorf("Message = %+v (err %v), want %+v", got, err, m)
	}
	for _, tc := range []struct{ tenant, id string }{{"ten_b", m.ID}, {"ten_a", ids.Random{}.New(ids.Message)}, {"ten_a", "x"}} {
		if _, err := svc.Message(ctx, tc.tenant, tc.id); !errors.Is(err, chat.ErrMessageNotFound) {
			t.Errorf("Message(%s, %s) err = %v, want ErrMessageNotFound", tc.tenant, tc.id, err)
		}
	}

	for _, tc := range []struct {
		tenant, user string
		max          int
		want         []string
	}{
		{"ten_a", alice, 10, []string{c2.ID, c1.ID}},
		{"ten_a", alice, 1, []string{c2.ID}},
		{"ten_a", bob, 10, []string{c1.ID}},
		{"ten_a", eve, 10, []string{}},
		{"ten_c", alice, 10, []string{}},
	} {
		got, err := svc.ConversationIDsOf(ctx, tc.tenant, tc.user, tc.max)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ConversationIDsOf(%s, %s, %d) = %v (err %v), want %v", tc.tenant, tc.user, tc.max, got, err, tc.want)
		}
	}
	if _, err := svc.ConversationIDsOf(ctx, "ten_a", alice, 0); err == nil {
		t.Error("ConversationIDsOf with max 0 succeeded, want an error")
	}

	if err := svc.RequireMember(ctx, "ten_a", bob, c1.ID); err != nil {
		t.Errorf("RequireMember(member) = %v", err)
	}
	for _, tc := range []struct{ tenant, user, conv string }{
		{"ten_a", eve, c1.ID}, {"ten_b", bob, c1.ID}, {"ten_a", bob, c2.ID}, {"ten_a", bob, "x"},
	} {
		if err := svc.RequireMember(ctx, tc.tenant, tc.user, tc.conv); !errors.Is(err, chat.ErrConversationNotFound) {
			t.Errorf("RequireMember(%s, %s, %s) = %v, want ErrConversationNotFound", tc.tenant, tc.user, tc.conv, err)
		}
	}
}
