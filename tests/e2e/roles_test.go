package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestRoles checks tenant administration through the gateway: the tenant's API key and admin
// users may set users' roles, ordinary users may not; a promotion reaches the user's next
// requests within seconds without a new login, and a demotion takes the right away; another
// tenant's key sees no user of this tenant; a bad key is the gateway's 401; and an API key is
// no user on user-only routes.
func TestRoles(t *testing.T) {
	w := getWorld(t)
	c := api()
	pat, err := registerAndLogin(c, w.a, "pat")
	if err != nil {
		t.Fatal(err)
	}
	quinn, err := registerAndLogin(c, w.a, "quinn")
	if err != nil {
		t.Fatal(err)
	}
	key := func(k string) hdr { return hdr{"X-Api-Key": k} }
	setRole := func(h hdr, userID, role string) *reply {
		t.Helper()
		return c.do(t, "PUT", "/v1/users/"+userID+"/role", h, map[string]string{"role": role})
	}

	t.Run("the API key sets roles", func(t *testing.T) {
		r := setRole(key(w.a.apiKey), quinn.id, "admin")
		if wantStatus(t, r, http.StatusOK) && (r.str("user_id") != quinn.id || r.str("role") != "admin") {
			t.Errorf("want {user_id, role: admin}: %s", r)
		}
		r = setRole(key(w.a.apiKey), quinn.id, "user")
		if wantStatus(t, r, http.StatusOK) && r.str("role") != "user" {
			t.Errorf("want role user: %s", r)
		}
	})
	t.Run("an ordinary user may not", func(t *testing.T) {
		wantProblem(t, setRole(bearer(pat.token), quinn.id, "admin"), http.StatusForbidden, "admin_required")
		wantProblem(t, setRole(bearer(pat.token), pat.id, "admin"), http.StatusForbidden, "admin_required")
	})
	t.Run("bad input", func(t *testing.T) {
		wantProblem(t, setRole(key(w.a.apiKey), quinn.id, "root"), http.StatusBadRequest, "invalid_role")
		wantProblem(t, c.do(t, "PUT", "/v1/users/"+quinn.id+"/role", key(w.a.apiKey), "{}"), http.StatusBadRequest)
		wantProblem(t, setRole(key(w.a.apiKey), "usr_nope", "admin"), http.StatusNotFound, "user_not_found")
	})
	t.Run("another tenant's key sees no user of this tenant", func(t *testing.T) {
		wantProblem(t, setRole(key(w.b.apiKey), quinn.id, "admin"), http.StatusNotFound, "user_not_found")
		wantProblem(t, setRole(bearer(w.dave.token), quinn.id, "admin"), http.StatusForbidden, "admin_required")
	})
	t.Run("a bad API key is the gateway's 401", func(t *testing.T) {
		bad := w.a.apiKey[:len(w.a.apiKey)-4] + "AAAA"
		if bad == w.a.apiKey {
			bad = w.a.apiKey[:len(w.a.apiKey)-4] + "BBBB"
		}
		wantGateway(t, setRole(key(bad), quinn.id, "admin"), http.StatusUnauthorized, "Unauthorized")
		wantGateway(t, setRole(key("garbage"), quinn.id, "admin"), http.StatusUnauthorized, "Unauthorized")
		wantGateway(t, setRole(nil, quinn.id, "admin"), http.StatusUnauthorized, "Unauthorized")
	})
	t.Run("an API key is no user", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/users/me", key(w.a.apiKey), nil), http.StatusUnauthorized)
		wantProblem(t, c.do(t, "GET", "/v1/conversations", key(w.a.apiKey), nil), http.StatusUnauthorized)
	})

	t.Run("promotion and demotion reach the next requests", func(t *testing.T) {
		// poll repeats pat's own role change of quinn until it answers want, for at most 10 s
		// (the authorizer remembers a user's role for 5 s).
		poll := func(want int) *reply {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				r := setRole(bearer(pat.token), quinn.id, "user")
				if r.status == want || time.Now().After(deadline) {
					return r
				}
				time.Sleep(300 * time.Millisecond)
			}
		}
		mustStatus(t, setRole(key(w.a.apiKey), pat.id, "admin"), http.StatusOK)
		start := time.Now()
		if r := poll(http.StatusOK); r.status != http.StatusOK {
			t.Fatalf("a promoted user's same token is still refused after 10 s: %s", r)
		} else if took := time.Since(start); took > 7*time.Second {
			t.Errorf("the promotion took %v to reach the authorizer, want at most ~6 s", took)
		}
		// An admin is still a user on user routes.
		mustStatus(t, c.do(t, "GET", "/v1/users/me", bearer(pat.token), nil), http.StatusOK)

		mustStatus(t, setRole(key(w.a.apiKey), pat.id, "user"), http.StatusOK)
		wantProblem(t, setRole(bearer(pat.token), quinn.id, "user"), http.StatusForbidden, "admin_required")
		time.Sleep(6 * time.Second)
		wantProblem(t, setRole(bearer(pat.token), quinn.id, "user"), http.StatusForbidden, "admin_required")

		// An admin may demote themselves; the API key stays admin.
		mustStatus(t, setRole(key(w.a.apiKey), pat.id, "admin"), http.StatusOK)
		if r := poll(http.StatusOK); r.status != http.StatusOK {
			t.Fatalf("re-promoted user refused: %s", r)
		}
		mustStatus(t, setRole(bearer(pat.token), pat.id, "user"), http.StatusOK)
		wantProblem(t, setRole(bearer(pat.token), quinn.id, "admin"), http.StatusForbidden, "admin_required")
		mustStatus(t, setRole(key(w.a.apiKey), quinn.id, "user"), http.StatusOK)
	})
}
