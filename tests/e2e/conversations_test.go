package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestConversations(t *testing.T) {
	w := getWorld(t)
	c := api()
	var groupID, directID string

	t.Run("group includes the caller", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/conversations", bearer(w.alice.token),
			map[string]any{"type": "group", "title": "Team " + suffix, "members": []string{w.bob.id}})
		if !wantStatus(t, r, http.StatusCreated) {
			return
		}
		wantFields(t, r, "id", "type", "members")
		groupID = r.str("id")
		if !strings.HasPrefix(groupID, "cnv_") {
			t.Errorf("conversation id %q lacks the cnv_ prefix", groupID)
		}
		members := stringsOf(r.obj()["members"])
		if !slices.Contains(members, w.alice.id) || !slices.Contains(members, w.bob.id) || len(members) != 2 {
			t.Errorf("want members alice and bob: %s", r)
		}
		if r.str("type") != "group" || r.str("title") != "Team "+suffix {
			t.Errorf("want type group and the title back: %s", r)
		}
	})

	t.Run("direct opened by 20 racing requests is one conversation", func(t *testing.T) {
		const n = 20
		replies := make([]*reply, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				replies[i], errs[i] = c.send("POST", "/v1/conversations", bearer(w.alice.token),
					map[string]any{"type": "direct", "members": []string{w.bob.id}})
			})
		}
		wg.Wait()
		ids := map[string]bool{}
		created := 0
		for i, r := range replies {
			if errs[i] != nil {
				t.Errorf("request %d: %v", i, errs[i])
				continue
			}
			switch r.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Errorf("request %d: want 200 or 201: %s", i, r)
				continue
			}
			ids[r.str("id")] = true
		}
		if len(ids) != 1 {
			t.Errorf("want exactly one conversation id, got %d: %v", len(ids), keys(ids))
		}
		if created < 1 {
			t.Errorf("want at least one 201 among the racing opens, got none")
		}
		for id := range ids {
			directID = id
		}
	})

	t.Run("direct opened again answers the same one", func(t *testing.T) {
		if directID == "" {
			t.Fatal("no direct conversation from the previous step")
		}
		r := c.do(t, "POST", "/v1/conversations", bearer(w.alice.token),
			map[string]any{"type": "direct", "members": []string{w.bob.id}})
		if wantStatus(t, r, http.StatusOK) && r.str("id") != directID {
			t.Errorf("want %s again: %s", directID, r)
		}
		r = c.do(t, "POST", "/v1/conversations", bearer(w.bob.token),
			map[string]any{"type": "direct", "members": []string{w.alice.id}})
		if wantStatus(t, r, http.StatusOK) && r.str("id") != directID {
			t.Errorf("bob opening the pair from his side: want %s: %s", directID, r)
		}
	})

	t.Run("members of another tenant are refused", func(t *testing.T) {
		for _, typ := range []string{"group", "direct"} {
			r := c.do(t, "POST", "/v1/conversations", bearer(w.alice.token),
				map[string]any{"type": typ, "title": "Cross " + suffix, "members": []string{w.dave.id}})
			if r.status < 400 || r.status >= 500 {
				t.Errorf("%s with tenant B's dave: want a 4xx problem: %s", typ, r)
				continue
			}
			wantProblem(t, r, r.status)
			if strings.Contains(string(r.raw), w.dave.email) || strings.Contains(string(r.raw), w.dave.displayName) {
				t.Errorf("the refusal leaks another tenant's user: %s", r)
			}
		}
	})

	t.Run("list walks every conversation once", func(t *testing.T) {
		if groupID == "" || directID == "" {
			t.Fatal("the group or the direct conversation was not created")
		}
		full := c.do(t, "GET", "/v1/conversations?limit=100", bearer(w.alice.token), nil)
		if !wantStatus(t, full, http.StatusOK) {
			return
		}
		all := idsOf(full.items())
		if !slices.Contains(all, groupID) || !slices.Contains(all, directID) {
			t.Errorf("want the group %s and the direct %s in alice's list: %v", groupID, directID, all)
		}

		var walked []string
		seen := map[string]bool{}
		cursor := ""
		for page := 0; ; page++ {
			if page > len(all)+2 {
				t.Fatalf("limit=1 paging did not end after %d pages", page)
			}
			path := "/v1/conversations?limit=1"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := c.do(t, "GET", path, bearer(w.alice.token), nil)
			if !wantStatus(t, r, http.StatusOK) {
				return
			}
			items := r.items()
			if len(items) > 1 {
				t.Fatalf("limit=1 answered %d items", len(items))
			}
			for _, id := range idsOf(items) {
				if seen[id] {
					t.Errorf("page %d repeats %s", page, id)
				}
				seen[id] = true
				walked = append(walked, id)
			}
			cursor = r.str("next_cursor")
			if cursor == "" {
				break
			}
		}
		if !slices.Equal(walked, all) {
			t.Errorf("limit=1 paging walked %v, the full list is %v", walked, all)
		}
	})

	t.Run("bob sees both, carol neither", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/conversations?limit=100", bearer(w.bob.token), nil)
		if wantStatus(t, r, http.StatusOK) {
			ids := idsOf(r.items())
			if !slices.Contains(ids, groupID) || !slices.Contains(ids, directID) {
				t.Errorf("bob's list lacks the group or the direct conversation: %v", ids)
			}
		}
		r = c.do(t, "GET", "/v1/conversations?limit=100", bearer(w.carol.token), nil)
		if wantStatus(t, r, http.StatusOK) {
			ids := idsOf(r.items())
			if slices.Contains(ids, groupID) || slices.Contains(ids, directID) {
				t.Errorf("carol's list shows conversations she is not in: %v", ids)
			}
		}
	})

	t.Run("a retry with the same Idempotency-Key answers the same conversation", func(t *testing.T) {
		h := bearer(w.alice.token)
		h["Idempotency-Key"] = "e2e retry " + suffix
		body := map[string]any{"type": "group", "title": "Retry " + suffix, "members": []string{w.bob.id}}
		first := c.do(t, "POST", "/v1/conversations", h, body)
		mustStatus(t, first, http.StatusCreated)
		again := c.do(t, "POST", "/v1/conversations", h, body)
		if wantStatus(t, again, http.StatusCreated) && (again.str("id") != first.str("id") || again.str("created_at") != first.str("created_at")) {
			t.Errorf("the retry answered another conversation: first %s, retry %s", first, again)
		}

		changed := map[string]any{"type": "group", "title": "Changed " + suffix, "members": []string{w.bob.id}}
		wantProblem(t, c.do(t, "POST", "/v1/conversations", h, changed), http.StatusConflict, "idempotency_conflict")

		bad := bearer(w.alice.token)
		bad["Idempotency-Key"] = strings.Repeat("k", 256)
		wantProblem(t, c.do(t, "POST", "/v1/conversations", bad, body), http.StatusBadRequest, "invalid_idempotency_key")

		list := c.do(t, "GET", "/v1/conversations?limit=100", bearer(w.bob.token), nil)
		if wantStatus(t, list, http.StatusOK) {
			n := 0
			for _, item := range list.items() {
				if title, _ := item["title"].(string); title == "Retry "+suffix || title == "Changed "+suffix {
					n++
				}
			}
			if n != 1 {
				t.Errorf("bob sees %d conversations made with the key, want exactly 1", n)
			}
		}
	})
}

func TestConversationUnreadCounts(t *testing.T) {
	w := getWorld(t)
	c := api()
	// A conversation of its own, so no other test's messages change the counts.
	convID := createConversation(t, c, w.alice, "group", "Unread "+suffix, w.bob.id)

	item := listedConversation(t, c, w.alice, convID)
	if item == nil {
		return
	}
	if _, ok := item["last_message_at"]; ok || item["last_seq"] != 0.0 || item["unread_count"] != 0.0 {
		t.Errorf("a conversation without messages: want last_seq 0, unread_count 0, no last_message_at: %v", item)
	}

	for i := 1; i <= 3; i++ {
		msg := mustSend(t, c, w.bob, convID, "unread-"+suffix+"-"+strconv.Itoa(i), "unread "+marker())
		item := listedConversation(t, c, w.alice, convID)
		if item == nil {
			return
		}
		if item["unread_count"] != float64(i) || item["last_seq"] != float64(i) || item["last_message_at"] != msg.str("created_at") {
			t.Errorf("alice after bob's message %d: want unread_count %d, last_seq %d, last_message_at %s: %v",
				i, i, i, msg.str("created_at"), item)
		}
		if bobs := listedConversation(t, c, w.bob, convID); bobs != nil && bobs["unread_count"] != 0.0 {
			t.Errorf("bob's own messages count as unread for him: %v", bobs)
		}
	}

	r := c.do(t, "GET", "/v1/conversations/"+convID+"/messages", bearer(w.alice.token), nil)
	if !wantStatus(t, r, http.StatusOK) || len(r.items()) != 3 {
		t.Fatalf("alice reads the messages: want the 3 messages: %s", r)
	}
	if item := listedConversation(t, c, w.alice, convID); item != nil && (item["unread_count"] != 0.0 || item["last_seq"] != 3.0) {
		t.Errorf("alice after listing the messages: want unread_count 0, last_seq 3: %v", item)
	}
}

// listedConversation returns the item of convID in u's conversation list, or nil after
// reporting that it is missing.
func listedConversation(t *testing.T, c *client, u *user, convID string) map[string]any {
	t.Helper()
	r := c.do(t, "GET", "/v1/conversations?limit=100", bearer(u.token), nil)
	if !wantStatus(t, r, http.StatusOK) {
		return nil
	}
	for _, item := range r.items() {
		if item["id"] == convID {
			return item
		}
	}
	t.Errorf("conversation %s is not in the list: %s", convID, r)
	return nil
}

func stringsOf(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, x := range arr {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func idsOf(items []map[string]any) []string {
	var out []string
	for _, m := range items {
		s, _ := m["id"].(string)
		out = append(out, s)
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
