package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// richBody holds emoji (with a ZWJ sequence and a skin tone), combining characters, CJK and
// right-to-left text: its bytes must come back unchanged.
const richBody = "héllo 👋🏽 👩‍👩‍👧 e\u0301 n\u0303 日本語の文字 한국어 中文 עברית"

func TestMessages(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Messages "+suffix, w.bob.id)
	aliceBody := richBody + " " + marker()
	var aliceMsg *reply

	t.Run("alice then bob send, seq 1 and 2", func(t *testing.T) {
		aliceMsg = mustSend(t, c, w.alice, convID, "a-1", aliceBody)
		wantMessage(t, aliceMsg, convID, w.alice.id, aliceBody, 1)
		bobMsg := mustSend(t, c, w.bob, convID, "b-1", "hi alice "+marker())
		wantMessage(t, bobMsg, convID, w.bob.id, "", 2)
	})

	t.Run("bob reads alice's exact bytes", func(t *testing.T) {
		if aliceMsg == nil {
			t.Fatal("alice's message was not sent")
		}
		r := c.do(t, "GET", "/v1/conversations/"+convID+"/messages", bearer(w.bob.token), nil)
		if !wantStatus(t, r, http.StatusOK) {
			return
		}
		for _, m := range r.items() {
			if m["id"] == aliceMsg.str("id") {
				if got, _ := m["body"].(string); got != aliceBody {
					t.Errorf("body changed on the way:\n got  %q\n want %q", got, aliceBody)
				}
				return
			}
		}
		t.Errorf("bob's list lacks alice's message %s: %s", aliceMsg.str("id"), r)
	})

	t.Run("20 racing duplicates are one message", func(t *testing.T) {
		const n = 20
		body := "once only " + marker()
		replies := make([]*reply, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { replies[i], errs[i] = sendMessage(c, w.alice, convID, "dup-1", body) })
		}
		wg.Wait()
		ids := map[string]bool{}
		created, replayed := 0, 0
		for i, r := range replies {
			if errs[i] != nil {
				t.Errorf("request %d: %v", i, errs[i])
				continue
			}
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
				replayed++
			default:
				t.Errorf("request %d: want 200 or 201: %s", i, r)
				continue
			}
			ids[r.str("id")] = true
			if r.str("body") != body {
				t.Errorf("request %d answered another body: %s", i, r)
			}
		}
		if created != 1 || replayed != n-1 || len(ids) != 1 {
			t.Errorf("want one 201, %d 200 and one id; got %d 201, %d 200, ids %v", n-1, created, replayed, keys(ids))
		}

		r, err := sendMessage(c, w.alice, convID, "dup-1", "another body "+marker())
		if err != nil {
			t.Fatal(err)
		}
		wantProblem(t, r, http.StatusConflict, "idempotency_conflict")

		// The duplicates took one seq: the next message is 4 (after 1, 2 and the deduplicated 3).
		next := mustSend(t, c, w.bob, convID, "b-2", "after the duplicates "+marker())
		if seq := next.num("seq"); seq != 4 {
			t.Errorf("want seq 4 after the deduplicated message, got %v", seq)
		}
	})

	t.Run("bob's client_msg_id is his own", func(t *testing.T) {
		// The same client_msg_id from another sender is another message.
		if aliceMsg == nil {
			t.Fatal("alice's message was not sent")
		}
		r := mustSend(t, c, w.bob, convID, "a-1", "bob reuses alice's key "+marker())
		if r.str("id") == aliceMsg.str("id") {
			t.Errorf("bob's send with alice's client_msg_id answered alice's message")
		}
	})
}

func TestConcurrentSendersAndPaging(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Load "+suffix, w.bob.id)
	const senders, perSender = 5, 10
	const total = senders * perSender

	var wg sync.WaitGroup
	var mu sync.Mutex
	seqs := map[int]string{}
	for s := range senders {
		u := w.alice
		if s%2 == 1 {
			u = w.bob
		}
		wg.Go(func() {
			for i := range perSender {
				r, err := sendMessage(c, u, convID, fmt.Sprintf("load-%d-%d", s, i), fmt.Sprintf("load %d/%d %s", s, i, marker()))
				if err != nil {
					t.Error(err)
					return
				}
				if r.status != http.StatusCreated {
					t.Errorf("sender %d message %d: want 201: %s", s, i, r)
					continue
				}
				mu.Lock()
				seq := int(r.num("seq"))
				if other, dup := seqs[seq]; dup {
					t.Errorf("seq %d given to both %s and %s", seq, other, r.str("id"))
				}
				seqs[seq] = r.str("id")
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for want := 1; want <= total; want++ {
		if _, ok := seqs[want]; !ok {
			t.Errorf("no message got seq %d (seqs must be 1..%d with no gap)", want, total)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	want := seqRange(1, total)

	list := func(t *testing.T, query string) *reply {
		t.Helper()
		r := c.do(t, "GET", "/v1/conversations/"+convID+"/messages"+query, bearer(w.bob.token), nil)
		mustStatus(t, r, http.StatusOK)
		return r
	}

	t.Run("newest page by default", func(t *testing.T) {
		got := seqsOf(t, list(t, "").items())
		if len(got) == 0 || got[len(got)-1] != total {
			t.Errorf("the default page should end with the newest seq %d: %v", total, got)
		}
	})
	t.Run("after and before with limit", func(t *testing.T) {
		if got := seqsOf(t, list(t, "?before=10&limit=5").items()); !slices.Equal(got, seqRange(5, 9)) {
			t.Errorf("before=10&limit=5: got %v, want 5..9", got)
		}
		if got := seqsOf(t, list(t, "?after=20&limit=3").items()); !slices.Equal(got, seqRange(21, 23)) {
			t.Errorf("after=20&limit=3: got %v, want 21..23", got)
		}
		r := list(t, fmt.Sprintf("?after=%d&limit=10", total-5))
		if got := seqsOf(t, r.items()); !slices.Equal(got, seqRange(total-4, total)) {
			t.Errorf("after=%d: got %v, want the last five", total-5, got)
		}
		if r.str("next_cursor") != "" {
			t.Errorf("the last forward page still has a next_cursor")
		}
	})
	t.Run("forward by cursor", func(t *testing.T) {
		got := walk(t, list, "?after=0&limit=7", func(r *reply, _ []int) string {
			if cur := r.str("next_cursor"); cur != "" {
				return "?cursor=" + url.QueryEscape(cur)
			}
			return ""
		})
		if !slices.Equal(got, want) {
			t.Errorf("forward cursor walk: got %v", got)
		}
	})
	t.Run("forward by after", func(t *testing.T) {
		got := walk(t, list, "?after=0&limit=7", func(_ *reply, page []int) string {
			if len(page) == 0 {
				return ""
			}
			return fmt.Sprintf("?after=%d&limit=7", page[len(page)-1])
		})
		if !slices.Equal(got, want) {
			t.Errorf("forward after= walk: got %v", got)
		}
	})
	t.Run("backward by cursor", func(t *testing.T) {
		got := walk(t, list, "?limit=7", func(r *reply, _ []int) string {
			if cur := r.str("next_cursor"); cur != "" {
				return "?cursor=" + url.QueryEscape(cur)
			}
			return ""
		})
		if !slices.Equal(got, want) {
			t.Errorf("backward cursor walk: got %v", got)
		}
	})
	t.Run("backward by before", func(t *testing.T) {
		got := walk(t, list, "?limit=7", func(_ *reply, page []int) string {
			if len(page) == 0 || page[0] == 1 {
				return ""
			}
			return fmt.Sprintf("?before=%d&limit=7", page[0])
		})
		if !slices.Equal(got, want) {
			t.Errorf("backward before= walk: got %v", got)
		}
	})
}

// walk pages through messages from first, asking next for the following query ("" ends), and
// returns every seq seen, sorted. Each page must be in ascending seq order and hold no seq seen
// before.
func walk(t *testing.T, list func(*testing.T, string) *reply, first string, next func(*reply, []int) string) []int {
	t.Helper()
	var all []int
	seen := map[int]bool{}
	query := first
	for pages := 0; query != ""; pages++ {
		if pages > 100 {
			t.Fatalf("paging did not end after %d pages", pages)
		}
		r := list(t, query)
		page := seqsOf(t, r.items())
		if !slices.IsSorted(page) {
			t.Errorf("%s: page not in ascending seq order: %v", query, page)
		}
		for _, s := range page {
			if seen[s] {
				t.Errorf("%s: seq %d repeated", query, s)
			}
			seen[s] = true
		}
		all = append(all, page...)
		if len(page) == 0 {
			break
		}
		query = next(r, page)
	}
	slices.Sort(all)
	return all
}

func seqsOf(t *testing.T, items []map[string]any) []int {
	t.Helper()
	out := make([]int, 0, len(items))
	for _, m := range items {
		n, ok := m["seq"].(float64)
		if !ok {
			t.Errorf("message without a numeric seq: %v", m)
		}
		out = append(out, int(n))
	}
	return out
}

func seqRange(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// wantMessage checks a created message's fields; body is checked when not empty.
func wantMessage(t *testing.T, r *reply, convID, senderID, body string, seq float64) {
	t.Helper()
	wantFields(t, r, "id", "seq", "conversation_id", "sender_id", "body", "created_at")
	if !strings.HasPrefix(r.str("id"), "msg_") {
		t.Errorf("message id %q lacks the msg_ prefix", r.str("id"))
	}
	if r.str("conversation_id") != convID || r.str("sender_id") != senderID {
		t.Errorf("want conversation %s and sender %s: %s", convID, senderID, r)
	}
	if body != "" && r.str("body") != body {
		t.Errorf("body changed:\n got  %q\n want %q", r.str("body"), body)
	}
	if r.num("seq") != seq {
		t.Errorf("want seq %v: %s", seq, r)
	}
	at, err := time.Parse(time.RFC3339Nano, r.str("created_at"))
	if err != nil || !strings.HasSuffix(r.str("created_at"), "Z") {
		t.Errorf("created_at %q is not RFC 3339 UTC", r.str("created_at"))
	} else if d := time.Since(at); d < -time.Minute || d > 5*time.Minute {
		t.Errorf("created_at %s is far from now", at)
	}
}
