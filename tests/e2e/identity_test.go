package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTenants(t *testing.T) {
	c := api()
	body := map[string]string{"name": "Tenant T " + suffix}

	t.Run("created with the admin key", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/tenants", hdr{"X-Admin-Key": the.adminKey}, body)
		if wantStatus(t, r, http.StatusCreated) {
			wantFields(t, r, "id", "name", "api_key")
			if !strings.HasPrefix(r.str("id"), "ten_") {
				t.Errorf("tenant id %q lacks the ten_ prefix", r.str("id"))
			}
			if r.str("name") != body["name"] {
				t.Errorf("name %q, want %q", r.str("name"), body["name"])
			}
		}
	})
	for _, tc := range []struct {
		name string
		h    hdr
	}{
		{"refused without the admin key", nil},
		{"refused with a wrong admin key", hdr{"X-Admin-Key": randomKey()}},
		{"refused with a truncated admin key", hdr{"X-Admin-Key": the.adminKey[:20]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, c.do(t, "POST", "/v1/tenants", tc.h, body), http.StatusUnauthorized)
		})
	}
}

func TestRegister(t *testing.T) {
	w := getWorld(t)
	c := api()
	for _, u := range []*user{w.alice, w.bob, w.carol, w.dave} {
		if !strings.HasPrefix(u.id, "usr_") {
			t.Errorf("%s: user id %q lacks the usr_ prefix", u.name, u.id)
		}
	}

	t.Run("same email again is a conflict", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/register", hdr{"X-Api-Key": w.a.apiKey},
			map[string]string{"email": w.bob.email, "password": "another long password", "display_name": "Bob Again"})
		wantProblem(t, r, http.StatusConflict, "email_taken")
	})
	t.Run("same email in another tenant is a different user", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/register", hdr{"X-Api-Key": w.b.apiKey},
			map[string]string{"email": w.bob.email, "password": "another long password", "display_name": "Bob in B"})
		if wantStatus(t, r, http.StatusCreated) && r.str("user_id") == w.bob.id {
			t.Errorf("tenant B's bob has tenant A's bob's id %s", w.bob.id)
		}
	})
	t.Run("refused without an API key", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/register", nil,
			map[string]string{"email": "nokey." + suffix + "@example.test", "password": "long enough password", "display_name": "No Key"})
		wantProblem(t, r, http.StatusUnauthorized)
	})
	t.Run("refused with a wrong API key", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/register", hdr{"X-Api-Key": w.a.apiKey + "x"},
			map[string]string{"email": "badkey." + suffix + "@example.test", "password": "long enough password", "display_name": "Bad Key"})
		wantProblem(t, r, http.StatusUnauthorized)
	})
}

func TestLogin(t *testing.T) {
	w := getWorld(t)
	c := api()

	t.Run("answers a bearer token pair", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id},
			map[string]string{"email": w.alice.email, "password": w.alice.password})
		if !wantStatus(t, r, http.StatusOK) {
			return
		}
		wantFields(t, r, "access_token", "refresh_token", "token_type", "expires_in")
		if r.str("token_type") != "Bearer" {
			t.Errorf("token_type %q, want Bearer", r.str("token_type"))
		}
		if r.num("expires_in") <= 0 {
			t.Errorf("expires_in %v, want a positive number of seconds", r.obj()["expires_in"])
		}
		if strings.Count(r.str("access_token"), ".") != 2 {
			t.Errorf("access_token is not a JWT")
		}
	})

	t.Run("wrong password and unknown email answer alike", func(t *testing.T) {
		wrong := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id},
			map[string]string{"email": w.alice.email, "password": w.alice.password + "!"})
		unknown := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id},
			map[string]string{"email": "nobody." + suffix + "@example.test", "password": w.alice.password})
		wantProblem(t, wrong, http.StatusUnauthorized, "invalid_credentials")
		wantProblem(t, unknown, http.StatusUnauthorized, "invalid_credentials")
		a, b := wrong.obj(), unknown.obj()
		if a == nil || b == nil {
			return
		}
		delete(a, "request_id")
		delete(b, "request_id")
		if ja, jb := jsonString(a), jsonString(b); ja != jb {
			t.Errorf("the two 401 bodies differ beyond request_id:\n wrong password: %s\n unknown email:  %s", ja, jb)
		}
	})

	t.Run("another tenant's user cannot log in here", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id},
			map[string]string{"email": w.dave.email, "password": w.dave.password})
		wantProblem(t, r, http.StatusUnauthorized, "invalid_credentials")
	})
}

func TestUsers(t *testing.T) {
	w := getWorld(t)
	c := api()

	t.Run("me is the caller's profile", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users/me", bearer(w.alice.token), nil)
		if !wantStatus(t, r, http.StatusOK) {
			return
		}
		wantFields(t, r, "id", "email", "display_name", "created_at")
		if r.str("id") != w.alice.id || r.str("email") != w.alice.email || r.str("display_name") != w.alice.displayName {
			t.Errorf("want alice's profile (%s, %s, %s): %s", w.alice.id, w.alice.email, w.alice.displayName, r)
		}
	})
	t.Run("another user of the tenant by id", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users/"+w.bob.id, bearer(w.alice.token), nil)
		if !wantStatus(t, r, http.StatusOK) {
			return
		}
		if r.str("id") != w.bob.id || r.str("display_name") != w.bob.displayName {
			t.Errorf("want bob's id and display name: %s", r)
		}
	})
	t.Run("a user of another tenant does not exist", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/users/"+w.dave.id, bearer(w.alice.token), nil), http.StatusNotFound)
	})
	t.Run("an unknown id does not exist", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/users/usr_doesnotexist", bearer(w.alice.token), nil), http.StatusNotFound)
	})
	t.Run("found by email with the tenant's API key", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users?email="+url.QueryEscape(w.bob.email), hdr{"X-Api-Key": w.a.apiKey}, nil)
		if wantStatus(t, r, http.StatusOK) && r.str("id") != w.bob.id {
			t.Errorf("want bob (%s): %s", w.bob.id, r)
		}
	})
	t.Run("another tenant's API key does not find the user", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users?email="+url.QueryEscape(w.alice.email), hdr{"X-Api-Key": w.b.apiKey}, nil)
		wantProblem(t, r, http.StatusNotFound)
	})
	t.Run("find by email needs the API key", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/users?email="+url.QueryEscape(w.bob.email), nil, nil)
		wantProblem(t, r, http.StatusUnauthorized)
	})
}
