package e2e

import (
	"net/http"
	"testing"
)

func TestIsolation(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Private "+suffix, w.bob.id)
	mustSend(t, c, w.alice, convID, "iso-1", "for alice and bob only "+marker())
	messages := "/v1/conversations/" + convID + "/messages"

	for _, tc := range []struct {
		name string
		u    *user
	}{{"carol, not a member", w.carol}, {"dave, another tenant", w.dave}} {
		t.Run(tc.name+" cannot read", func(t *testing.T) {
			r := c.do(t, "GET", messages, bearer(tc.u.token), nil)
			wantProblem(t, r, http.StatusNotFound, "conversation_not_found")
		})
		t.Run(tc.name+" cannot write", func(t *testing.T) {
			r, err := sendMessage(c, tc.u, convID, "intruder-1", "let me in "+marker())
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, r, http.StatusNotFound, "conversation_not_found")
		})
	}

	t.Run("a non-member's answer is that of a conversation that does not exist", func(t *testing.T) {
		for _, id := range []string{"cnv_doesnotexist0000000000", "not-an-id"} {
			r := c.do(t, "GET", "/v1/conversations/"+id+"/messages", bearer(w.carol.token), nil)
			wantProblem(t, r, http.StatusNotFound, "conversation_not_found")
		}
	})

	t.Run("another tenant's user does not exist", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/users/"+w.alice.id, bearer(w.dave.token), nil), http.StatusNotFound)
	})

	t.Run("another tenant's lists are empty of this tenant", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/conversations?limit=100", bearer(w.dave.token), nil)
		if wantStatus(t, r, http.StatusOK) {
			for _, id := range idsOf(r.items()) {
				if id == convID {
					t.Errorf("dave's list shows tenant A's conversation %s", convID)
				}
			}
		}
	})
}
