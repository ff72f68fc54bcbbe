package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGDPRConsent checks consent records through the gateway: a user grants and withdraws,
// the history comes newest first with the current state per purpose and pages with a cursor;
// the tenant's API key records for any user of the tenant; other users and other tenants see
// nothing; and a POST retried with its Idempotency-Key is recorded once.
func TestGDPRConsent(t *testing.T) {
	w := getWorld(t)
	c := api()
	uma, err := registerAndLogin(c, w.a, "uma")
	if err != nil {
		t.Fatal(err)
	}
	key := hdr{"X-Api-Key": w.a.apiKey}
	post := func(h hdr, body any) *reply {
		t.Helper()
		return c.do(t, "POST", "/v1/gdpr/consents", h, body)
	}

	r := post(bearer(uma.token), map[string]any{"purpose": "marketing", "policy_version": "1", "granted": true, "source": "web"})
	if wantStatus(t, r, http.StatusCreated) {
		wantFields(t, r, "id", "user_id", "purpose", "policy_version", "granted", "source", "recorded_at", "recorded_by")
		if r.str("user_id") != uma.id || r.str("recorded_by") != uma.id || r.obj()["granted"] != true {
			t.Errorf("grant: %s", r)
		}
	}
	r = post(key, map[string]any{"user_id": uma.id, "purpose": "analytics", "policy_version": "1", "granted": true})
	if wantStatus(t, r, http.StatusCreated) && (r.str("recorded_by") != "api_key" || r.str("source") != "api") {
		t.Errorf("grant by the API key: %s", r)
	}
	withdraw := map[string]any{"purpose": "marketing", "policy_version": "2", "granted": false, "source": "mobile"}
	retry := hdr{"Authorization": "Bearer " + uma.token, "Idempotency-Key": "withdraw-" + marker()}
	first := post(retry, withdraw)
	mustStatus(t, first, http.StatusCreated)
	second := post(retry, withdraw)
	if wantStatus(t, second, http.StatusOK) && second.str("id") != first.str("id") {
		t.Errorf("retried withdrawal made another record: %s then %s", first, second)
	}
	wantProblem(t, post(retry, with(withdraw, "policy_version", "3")), http.StatusConflict, "idempotency_conflict")

	t.Run("history newest first with the current state", func(t *testing.T) {
		r := c.do(t, "GET", "/v1/gdpr/consents?limit=2", bearer(uma.token), nil)
		if !wantStatus(t, r, http.StatusOK) {
			return
		}
		items := r.items()
		if len(items) != 2 || items[0]["id"] != first.str("id") || items[1]["purpose"] != "analytics" || r.str("next_cursor") == "" {
			t.Fatalf("first page: %s", r)
		}
		cur, _ := r.obj()["current"].(map[string]any)
		m, _ := cur["marketing"].(map[string]any)
		a, _ := cur["analytics"].(map[string]any)
		if len(cur) != 2 || m["granted"] != false || m["policy_version"] != "2" || a["granted"] != true {
			t.Errorf("current: %v", cur)
		}
		r = c.do(t, "GET", "/v1/gdpr/consents?limit=2&cursor="+r.str("next_cursor"), bearer(uma.token), nil)
		if wantStatus(t, r, http.StatusOK) {
			items := r.items()
			if len(items) != 1 || items[0]["purpose"] != "marketing" || items[0]["granted"] != true || r.str("next_cursor") != "" {
				t.Errorf("second page: %s", r)
			}
		}
		r = c.do(t, "GET", "/v1/gdpr/consents?purpose=marketing&user_id="+uma.id, key, nil)
		if wantStatus(t, r, http.StatusOK) && len(r.items()) != 2 {
			t.Errorf("the API key's marketing history: %s", r)
		}
	})
	t.Run("isolation", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/gdpr/consents?user_id="+uma.id, bearer(w.bob.token), nil), http.StatusForbidden, "admin_required")
		wantProblem(t, post(bearer(w.bob.token), map[string]any{"user_id": uma.id, "purpose": "x", "policy_version": "1", "granted": true}),
			http.StatusForbidden, "admin_required")
		wantProblem(t, c.do(t, "GET", "/v1/gdpr/consents?user_id="+uma.id, hdr{"X-Api-Key": w.b.apiKey}, nil), http.StatusNotFound, "user_not_found")
		wantProblem(t, post(key, map[string]any{"user_id": w.dave.id, "purpose": "x", "policy_version": "1", "granted": true}),
			http.StatusNotFound, "user_not_found")
	})
	t.Run("bad input", func(t *testing.T) {
		wantProblem(t, post(bearer(uma.token), map[string]any{"purpose": "Bad Purpose", "policy_version": "1", "granted": true}), http.StatusBadRequest, "invalid_purpose")
		wantProblem(t, post(bearer(uma.token), map[string]any{"purpose": "p", "policy_version": "1"}), http.StatusBadRequest, "missing_field")
		wantProblem(t, post(bearer(uma.token), map[string]any{"purpose": "p", "policy_version": "1", "granted": true, "extra": 1}), http.StatusBadRequest, "unknown_field")
		wantProblem(t, post(key, map[string]any{"purpose": "p", "policy_version": "1", "granted": true}), http.StatusBadRequest, "missing_field")
		wantProblem(t, c.do(t, "GET", "/v1/gdpr/consents?cursor=zzz", bearer(uma.token), nil), http.StatusBadRequest, "invalid_cursor")
	})
}

// TestGDPRRectify checks rectification through the gateway: a user corrects their own display
// name and email and logs in with the new email; the tenant's API key corrects any user of the
// tenant; a taken email is 409; other users and tenants are refused.
func TestGDPRRectify(t *testing.T) {
	w := getWorld(t)
	c := api()
	vic, err := registerAndLogin(c, w.a, "vic")
	if err != nil {
		t.Fatal(err)
	}
	patch := func(h hdr, id string, body any) *reply {
		t.Helper()
		return c.do(t, "PATCH", "/v1/gdpr/users/"+id, h, body)
	}

	newEmail := "Vic.Renamed." + marker() + "@Example.test"
	r := patch(bearer(vic.token), vic.id, map[string]string{"display_name": "Vic R", "email": newEmail})
	if wantStatus(t, r, http.StatusOK) && (r.str("display_name") != "Vic R" || r.str("id") != vic.id || r.str("email") == newEmail) {
		t.Errorf("rectify: %s (the email must come back normalized)", r)
	}
	vic.email = r.str("email")

	// The change is in the tenant's audit trail, its values sealed: neither the new email nor
	// vic's id appears in the record.
	r = c.do(t, "GET", "/v1/audit/events?action="+url.QueryEscape("PATCH /v1/gdpr/users/{id}"), hdr{"X-Api-Key": w.a.apiKey}, nil)
	if wantStatus(t, r, http.StatusOK) {
		found := false
		for _, it := range r.items() {
			raw, _ := json.Marshal(it)
			if strings.Contains(string(raw), vic.id) || strings.Contains(strings.ToLower(string(raw)), strings.ToLower(newEmail)) {
				t.Errorf("an audit record shows the subject or the value in the clear: %s", raw)
			}
			d, _ := it["details"].(map[string]any)
			if d["fields"] == "display_name,email" && d["old_email"] != nil && d["new_display_name"] != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("no audit record of the rectification: %s", r)
		}
	}
	if _, err := login(c, vic); err != nil {
		t.Errorf("login with the new email: %v", err)
	}
	r = patch(hdr{"X-Api-Key": w.a.apiKey}, vic.id, map[string]string{"display_name": "Vic by admin"})
	if wantStatus(t, r, http.StatusOK) && r.str("display_name") != "Vic by admin" {
		t.Errorf("rectify by the API key: %s", r)
	}
	wantProblem(t, patch(bearer(vic.token), vic.id, map[string]string{"email": w.alice.email}), http.StatusConflict, "email_taken")
	wantProblem(t, patch(bearer(w.bob.token), vic.id, map[string]string{"display_name": "x"}), http.StatusForbidden, "admin_required")
	wantProblem(t, patch(hdr{"X-Api-Key": w.b.apiKey}, vic.id, map[string]string{"display_name": "x"}), http.StatusNotFound, "user_not_found")
	wantProblem(t, patch(bearer(vic.token), vic.id, map[string]string{}), http.StatusBadRequest, "missing_field")
	wantProblem(t, patch(bearer(vic.token), vic.id, map[string]string{"email": "not-an-email"}), http.StatusBadRequest, "invalid_email")
}
