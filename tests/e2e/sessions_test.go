package e2e

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair is an access and refresh token of one session.
type pair struct{ access, refresh string }

// refreshGrace is the server's reuse grace window (identity.DefaultRefreshGrace) plus a margin.
const refreshGrace = 11 * time.Second

// revocationWait bounds how long an ended session's access token may still pass the
// authorizer (its per-instance cache holds a live answer for 5 s).
const revocationWait = 15 * time.Second

// sessionUser registers a fresh user of tenant A, so that ending its sessions touches no other test.
func sessionUser(t *testing.T, c *client) *user {
	t.Helper()
	u, err := registerAndLogin(c, getWorld(t).a, "ses"+randomHex(4))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func loginPair(t *testing.T, c *client, u *user) pair {
	t.Helper()
	r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": u.tenant.id},
		map[string]string{"email": u.email, "password": u.password})
	mustStatus(t, r, http.StatusOK)
	return pair{r.str("access_token"), r.str("refresh_token")}
}

func refreshPair(t *testing.T, c *client, refresh string) *reply {
	t.Helper()
	return c.do(t, "POST", "/v1/auth/refresh", nil, map[string]string{"refresh_token": refresh})
}

// sessionOf reads the sid claim of an access token.
func sessionOf(t *testing.T, access string) string {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT")
	}
	var c struct {
		Sid string `json:"sid"`
	}
	decodeJSONSegment(t, parts[1], &c)
	return c.Sid
}

// mustNoContent ends the test unless r is a 204 with no body.
func mustNoContent(t *testing.T, r *reply) {
	t.Helper()
	if r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Fatalf("want 204 with no body: %s", r)
	}
}

func accepted(t *testing.T, c *client, access string) bool {
	t.Helper()
	r := c.do(t, "GET", "/v1/users/me", bearer(access), nil)
	switch r.status {
	case http.StatusOK:
		return true
	case http.StatusForbidden:
		return false
	}
	t.Fatalf("GET /v1/users/me: want 200 or the authorizer's 403: %s", r)
	return false
}

// waitRefused polls until the authorizer refuses access, failing after revocationWait.
func waitRefused(t *testing.T, c *client, access, what string) {
	t.Helper()
	deadline := time.Now().Add(revocationWait)
	for accepted(t, c, access) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the access token is still accepted %v later", what, revocationWait)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestSessions(t *testing.T) {
	c := api()

	t.Run("refresh rotates the pair", func(t *testing.T) {
		u := sessionUser(t, c)
		p := loginPair(t, c, u)
		r := refreshPair(t, c, p.refresh)
		mustStatus(t, r, http.StatusOK)
		wantFields(t, r, "access_token", "refresh_token", "token_type", "expires_in")
		if r.str("refresh_token") == p.refresh || r.str("access_token") == p.access {
			t.Fatal("refresh returned the same tokens")
		}
		if sessionOf(t, r.str("access_token")) != sessionOf(t, p.access) {
			t.Fatal("the new access token is of another session")
		}
		if !accepted(t, c, r.str("access_token")) {
			t.Fatal("the refreshed access token is refused")
		}
		if again := refreshPair(t, c, r.str("refresh_token")); again.status != http.StatusOK {
			t.Fatalf("refreshing the new refresh token: %s", again)
		}
	})

	t.Run("bad refresh requests", func(t *testing.T) {
		wantProblem(t, c.do(t, "POST", "/v1/auth/refresh", nil, map[string]string{}), http.StatusBadRequest)
		wantProblem(t, refreshPair(t, c, "garbage"), http.StatusUnauthorized, "invalid_refresh_token")
		wantProblem(t, refreshPair(t, c, ""), http.StatusUnauthorized, "invalid_refresh_token")
	})

	t.Run("concurrent retries of one refresh all get pairs", func(t *testing.T) {
		u := sessionUser(t, c)
		p := loginPair(t, c, u)
		const n = 5
		got := make([]*reply, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], _ = c.send("POST", "/v1/auth/refresh", nil, map[string]string{"refresh_token": p.refresh})
			})
		}
		wg.Wait()
		for i, r := range got {
			if r == nil || r.status != http.StatusOK {
				t.Fatalf("racing refresh %d: %v", i, r)
			}
		}
		if !accepted(t, c, got[0].str("access_token")) || !accepted(t, c, p.access) {
			t.Fatal("racing refreshes revoked the session")
		}
	})

	t.Run("reuse of a spent refresh token revokes the family", func(t *testing.T) {
		u := sessionUser(t, c)
		p := loginPair(t, c, u)
		other := loginPair(t, c, u)
		r := refreshPair(t, c, p.refresh)
		mustStatus(t, r, http.StatusOK)
		next := pair{r.str("access_token"), r.str("refresh_token")}
		if !accepted(t, c, next.access) {
			t.Fatal("the new access token is refused before any reuse")
		}
		time.Sleep(refreshGrace)
		wantProblem(t, refreshPair(t, c, p.refresh), http.StatusUnauthorized, "invalid_refresh_token")
		waitRefused(t, c, next.access, "after reuse, the family's newest access token")
		wantProblem(t, refreshPair(t, c, next.refresh), http.StatusUnauthorized, "invalid_refresh_token")
		if !accepted(t, c, other.access) {
			t.Fatal("reuse in one session revoked another session of the user")
		}
	})

	t.Run("logout ends the current session", func(t *testing.T) {
		u := sessionUser(t, c)
		p, q := loginPair(t, c, u), loginPair(t, c, u)
		mustNoContent(t, c.do(t, "POST", "/v1/auth/logout", bearer(p.access), nil))
		waitRefused(t, c, p.access, "after logout")
		wantProblem(t, refreshPair(t, c, p.refresh), http.StatusUnauthorized, "invalid_refresh_token")
		if !accepted(t, c, q.access) {
			t.Fatal("logout ended another session")
		}
	})

	t.Run("logout-all kills live access tokens", func(t *testing.T) {
		u := sessionUser(t, c)
		p, q := loginPair(t, c, u), loginPair(t, c, u)
		bystander := getWorld(t).bob
		if !accepted(t, c, p.access) || !accepted(t, c, q.access) {
			t.Fatal("fresh sessions refused")
		}
		mustNoContent(t, c.do(t, "POST", "/v1/auth/logout-all", bearer(p.access), nil))
		waitRefused(t, c, p.access, "after logout-all, the caller's session")
		waitRefused(t, c, q.access, "after logout-all, the other session")
		wantProblem(t, refreshPair(t, c, q.refresh), http.StatusUnauthorized, "invalid_refresh_token")
		if !accepted(t, c, bystander.token) {
			t.Fatal("logout-all ended another user's session")
		}
	})

	t.Run("sessions are listed and ended one by one", func(t *testing.T) {
		u := sessionUser(t, c)
		p, q := loginPair(t, c, u), loginPair(t, c, u)
		ps, qs := sessionOf(t, p.access), sessionOf(t, q.access)
		r := c.do(t, "GET", "/v1/auth/sessions", bearer(p.access), nil)
		mustStatus(t, r, http.StatusOK)
		items := r.items()
		seen := map[string]map[string]any{}
		for _, it := range items {
			id, _ := it["id"].(string)
			seen[id] = it
			for _, f := range []string{"id", "created_at", "last_used_at", "ip", "user_agent", "current"} {
				if _, ok := it[f]; !ok {
					t.Errorf("session item lacks %q: %v", f, it)
				}
			}
		}
		// registerAndLogin opened a third session.
		if len(items) != 3 || seen[ps] == nil || seen[qs] == nil {
			t.Fatalf("want 3 sessions including %s and %s: %s", ps, qs, r)
		}
		if seen[ps]["current"] != true || seen[qs]["current"] != false {
			t.Fatalf("current flags wrong: %s", r)
		}

		alice := getWorld(t).alice
		wantProblem(t, c.do(t, "DELETE", "/v1/auth/sessions/"+sessionOf(t, alice.token), bearer(p.access), nil),
			http.StatusNotFound, "session_not_found")
		wantProblem(t, c.do(t, "DELETE", "/v1/auth/sessions/ses_nope", bearer(p.access), nil),
			http.StatusNotFound, "session_not_found")
		if !accepted(t, c, alice.token) {
			t.Fatal("ending another user's session (refused) still ended it")
		}

		mustNoContent(t, c.do(t, "DELETE", "/v1/auth/sessions/"+qs, bearer(p.access), nil))
		waitRefused(t, c, q.access, "after DELETE /v1/auth/sessions/{id}")
		wantProblem(t, c.do(t, "DELETE", "/v1/auth/sessions/"+qs, bearer(p.access), nil),
			http.StatusNotFound, "session_not_found")
		r = c.do(t, "GET", "/v1/auth/sessions", bearer(p.access), nil)
		mustStatus(t, r, http.StatusOK)
		for _, it := range r.items() {
			if it["id"] == qs {
				t.Fatalf("the ended session is still listed: %s", r)
			}
		}
		if len(r.items()) != 2 || !accepted(t, c, p.access) {
			t.Fatalf("want the 2 other sessions still live: %s", r)
		}
	})
}
