package chattest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/ids"
)

func testAppendIdempotent(t *testing.T, s subject) {
	ctx := context.Background()
	alice, bob := newID(ids.User, 1), newID(ids.User, 2)
	c := mustCreate(t, s, group("ten_a", 1, alice, bob))
	// Bytes must round-trip: combining marks, an emoji sequence, a NUL and a lone CR.
	body := "héllo e\u0301 👩‍👩‍👧 \x01 \r end"

	const n = 20
	type result struct {
		m       chat.Message
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i].m, results[i].created, results[i].err = s.append(ctx, message(c, alice, "dup-1", body))
		})
	}
	wg.Wait()

	created := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("AppendMessage %d: %v", i, r.err)
		}
		if got := s.body(t, r.m); r.m.ID != results[0].m.ID || r.m.Seq != 1 || got != body {
			t.Errorf("AppendMessage %d = id %s seq %d body %q; want id %s seq 1 body %q",
				i, r.m.ID, r.m.Seq, got, results[0].m.ID, body)
		}
		if r.m.Body != "" {
			t.Errorf("AppendMessage %d returned a plaintext body from the store", i)
		}
		if r.created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d of %d identical sends reported created, want exactly 1", created, n)
	}
	stored, err := s.ListMessages(ctx, "ten_a", c.ID, chat.MessageRange{Forward: true, Limit: 100})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if len(stored) != 1 || s.body(t, stored[0]) != body || stored[0].ClientMsgID != "dup-1" {
		t.Errorf("stored %d messages after identical sends, want 1 with the body unchanged", len(stored))
	}

	// The same client id from another sender, or in another conversation, is another message.
	m2 := mustAppend(t, s, message(c, bob, "dup-1", body))
	if m2.ID == results[0].m.ID || m2.Seq != 2 {
		t.Errorf("bob's dup-1 = id %s seq %d, want a new message with seq 2", m2.ID, m2.Seq)
	}
}

func testAppendConflict(t *testing.T, s subject) {
	ctx := context.Background()
	alice := newID(ids.User, 1)
	c := mustCreate(t, s, group("ten_a", 1, alice))
	first := mustAppend(t, s, message(c, alice, "k", "first"))

	_, _, err := s.append(ctx, message(c, alice, "k", "second"))
	if !errors.Is(err, chat.ErrIdempotencyConflict) {
		t.Fatalf("same key, other body: err = %v, want ErrIdempotencyConflict", err)
	}
	again, created, err := s.append(ctx, message(c, alice, "k", "first"))
	if err != nil || created || again.ID != first.ID || again.Seq != first.Seq {
		t.Errorf("retry = %s seq %d created %v err %v, want the first message", again.ID, again.Seq, created, err)
	}
}

func testSeqNoGaps(t *testing.T, s subject) {
	ctx := context.Background()
	const senders, each = 10, 10
	var members []string
	for i := range senders {
		members = append(members, newID(ids.User, i))
	}
	c := mustCreate(t, s, group("ten_a", 1, members...))

	errs := make(chan error, senders*each)
	var wg sync.WaitGroup
	for _, u := range members {
		wg.Go(func() {
			for j := range each {
				if _, _, err := s.append(ctx, message(c, u, fmt.Sprintf("m%d", j), "hi")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendMessage: %v", err)
	}

	all, err := s.ListMessages(ctx, "ten_a", c.ID, chat.MessageRange{Forward: true, Limit: 1000})
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	if len(all) != senders*each {
		t.Fatalf("stored %d messages, want %d", len(all), senders*each)
	}
	perSender := map[string][]int64{}
	for i, m := range all {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: seqs must run 1..%d without gap or repeat", i, m.Seq, senders*each)
		}
		perSender[m.SenderID] = append(perSender[m.SenderID], m.Seq)
	}
	for u, seqs := range perSender {
		if len(seqs) != each || !slices.IsSorted(seqs) {
			t.Errorf("sender %s: seqs %v, want %d in rising order", u, seqs, each)
		}
	}
}

// fill appends n messages to c and returns them.
func fill(t *testing.T, s subject, c chat.Conversation, n int) []chat.Message {
	t.Helper()
	out := make([]chat.Message, n)
	for i := range n {
		out[i] = mustAppend(t, s, message(c, c.Members[0], fmt.Sprintf("c%d", i), fmt.Sprintf("body %d", i)))
	}
	return out
}

func seqs(ms []chat.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func testListMessagesRanges(t *testing.T, s subject) {
	ctx := context.Background()
	alice := newID(ids.User, 1)
	c := mustCreate(t, s, group("ten_a", 1, alice))
	fill(t, s, c, 30)
	mustAppend(t, s, message(mustCreate(t, s, group("ten_a", 2, alice)), alice, "x", "other conversation"))

	tests := []struct {
		name string
		r    chat.MessageRange
		want []int64
	}{
		{"newest", chat.MessageRange{Limit: 10}, seqRange(21, 30)},
		{"before 21", chat.MessageRange{Seq: 21, Limit: 10}, seqRange(11, 20)},
		{"before 3", chat.MessageRange{Seq: 3, Limit: 10}, seqRange(1, 2)},
		{"after 0", chat.MessageRange{Forward: true, Limit: 10}, seqRange(1, 10)},
		{"after 25", chat.MessageRange{Forward: true, Seq: 25, Limit: 10}, seqRange(26, 30)},
		{"after 30", chat.MessageRange{Forward: true, Seq: 30, Limit: 10}, nil},
	}
	for _, tt := range tests {
		got, err := s.ListMessages(ctx, "ten_a", c.ID, tt.r)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(seqs(got), tt.want) {
			t.Errorf("%s: seqs %v, want %v", tt.name, seqs(got), tt.want)
		}
	}
	if got, err := s.ListMessages(ctx, "ten_b", c.ID, chat.MessageRange{Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("another tenant listed %d messages (err %v), want none", len(got), err)
	}
}

// testServicePages walks a conversation through the service's cursors in both directions.
func testServicePages(t *testing.T, s subject) {
	ctx := context.Background()
	alice := newID(ids.User, 1)
	c := mustCreate(t, s, group("ten_a", 1, alice))
	fill(t, s, c, 23)
	svc := s.service()

	walk := func(q chat.MessageQuery) []int64 {
		backward := q.After == nil
		var got []int64
		for range 20 {
			page, err := svc.ListMessages(ctx, "ten_a", alice, c.ID, q)
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			if !slices.IsSorted(seqs(page.Items)) {
				t.Fatalf("page not in ascending seq order: %v", seqs(page.Items))
			}
			if backward {
				got = append(seqs(page.Items), got...)
			} else {
				got = append(got, seqs(page.Items)...)
			}
			if page.NextCursor == "" {
				return got
			}
			q = chat.MessageQuery{Cursor: page.NextCursor, Limit: q.Limit}
		}
		t.Fatal("paging did not end")
		return nil
	}
	zero := int64(0)
	if got := walk(chat.MessageQuery{Limit: 5}); !slices.Equal(got, seqRange(1, 23)) {
		t.Errorf("backward from newest: %v, want 1..23 once each", got)
	}
	if got := walk(chat.MessageQuery{After: &zero, Limit: 5}); !slices.Equal(got, seqRange(1, 23)) {
		t.Errorf("forward from start: %v, want 1..23 once each", got)
	}
}

func testPublishedFlag(t *testing.T, s subject) {
	ctx := context.Background()
	alice := newID(ids.User, 1)
	c := mustCreate(t, s, group("ten_a", 1, alice))
	old := message(c, alice, "old", "old")
	old.CreatedAt = base.Add(-time.Minute)
	m1 := mustAppend(t, s, old)
	m2 := mustAppend(t, s, message(c, alice, "new", "new"))
	if m1.Published || m2.Published {
		t.Fatal("a new message is already published")
	}

	pending, err := s.Unpublished(ctx, base.Add(time.Second), 10)
	if err != nil {
		t.Fatalf("Unpublished: %v", err)
	}
	if got := seqs(pending); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("Unpublished = seqs %v, want [1 2] oldest first", got)
	}
	if p, _ := s.Unpublished(ctx, base, 10); len(p) != 1 || p[0].ID != m1.ID {
		t.Errorf("Unpublished before base = %d messages, want only the older one", len(p))
	}

	// Another tenant cannot mark this tenant's messages.
	if err := s.MarkPublished(ctx, "ten_b", []string{m1.ID}); err != nil {
		t.Fatalf("MarkPublished: %v", err)
	}
	if err := s.MarkPublished(ctx, "ten_a", []string{m2.ID}); err != nil {
		t.Fatalf("MarkPublished: %v", err)
	}
	pending, err = s.Unpublished(ctx, base.Add(time.Second), 10)
	if err != nil {
		t.Fatalf("Unpublished: %v", err)
	}
	if len(pending) != 1 || pending[0].ID != m1.ID {
		t.Errorf("after marking m2: %d pending, want only m1", len(pending))
	}
	again, created, err := s.append(ctx, message(c, alice, "new", "new"))
	if err != nil || created || !again.Published {
		t.Errorf("idempotent hit on a published message: published %v created %v err %v", again.Published, created, err)
	}
}

// The store side of re-encryption: messages of every tenant by id, a body swapped only while it
// is the one read and only in its own tenant, and a job cursor that persists.
func testReencryptionPrimitives(t *testing.T, s subject) {
	ctx := context.Background()
	alice, eve := newID(ids.User, 1), newID(ids.User, 2)
	ca := mustCreate(t, s, group("ten_a", 1, alice))
	cb := mustCreate(t, s, group("ten_b", 2, eve))
	var all []chat.Message
	for i := range 3 {
		all = append(all, mustAppend(t, s, message(ca, alice, fmt.Sprintf("a%d", i), "a")))
		all = append(all, mustAppend(t, s, message(cb, eve, fmt.Sprintf("b%d", i), "b")))
	}
	slices.SortFunc(all, func(x, y chat.Message) int { return strings.Compare(x.ID, y.ID) })

	var walked []string
	after := ""
	for {
		page, err := s.MessagesAfter(ctx, after, 4)
		if err != nil {
			t.Fatalf("MessagesAfter: %v", err)
		}
		for _, m := range page {
			walked = append(walked, m.ID)
			if m.BodyCiphertext == "" {
				t.Errorf("MessagesAfter returned %s without its body ciphertext", m.ID)
			}
		}
		if len(page) < 4 {
			break
		}
		after = page[len(page)-1].ID
	}
	want := make([]string, len(all))
	for i, m := range all {
		want[i] = m.ID
	}
	if !slices.Equal(walked, want) {
		t.Errorf("walk by id = %v, want %v", walked, want)
	}

	m := all[0]
	if ok, err := s.SwapBodyCiphertext(ctx, "ten_other", m.ID, m.BodyCiphertext, "x"); err != nil || ok {
		t.Errorf("swap from another tenant = %v, %v; want nothing swapped", ok, err)
	}
	if ok, err := s.SwapBodyCiphertext(ctx, m.TenantID, m.ID, "not the stored one", "x"); err != nil || ok {
		t.Errorf("swap of a changed body = %v, %v; want nothing swapped", ok, err)
	}
	if ok, err := s.SwapBodyCiphertext(ctx, m.TenantID, m.ID, m.BodyCiphertext, "new-ct"); err != nil || !ok {
		t.Errorf("swap = %v, %v; want it swapped", ok, err)
	}
	if got, err := s.Message(ctx, m.TenantID, m.ID); err != nil || got.BodyCiphertext != "new-ct" {
		t.Errorf("after the swap the body ciphertext is %q (%v), want new-ct", got.BodyCiphertext, err)
	}

	if c, err := s.JobCursor(ctx, "job-x"); err != nil || c != "" {
		t.Errorf("cursor of a job never run = %q, %v; want empty", c, err)
	}
	for _, c := range []string{"c1", "c2", ""} {
		if err := s.SetJobCursor(ctx, "job-x", c); err != nil {
			t.Fatalf("SetJobCursor: %v", err)
		}
		if got, err := s.JobCursor(ctx, "job-x"); err != nil || got != c {
			t.Errorf("JobCursor = %q, %v; want %q", got, err, c)
		}
	}
}
