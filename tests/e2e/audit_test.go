package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAuditTrail checks the audit routes through the gateway on a tenant of its own: the API
// key appends events (a retried one is stored once, a user is stored as a pseudonym), an admin
// lists them newest first with filters and a cursor, an outsider recomputes a record's hash as
// docs/api.md describes, verification answers valid with the head, and callers who may not are
// refused.
func TestAuditTrail(t *testing.T) {
	c := api()
	ten, err := createTenant(c, "audit-"+suffix)
	if err != nil {
		t.Fatal(err)
	}
	key := hdr{"X-Api-Key": ten.apiKey}
	ivy, err := registerAndLogin(c, ten, "ivy")
	if err != nil {
		t.Fatal(err)
	}
	event := func(id, action string) map[string]any {
		return map[string]any{"id": id, "action": action, "resource": "inv_1", "outcome": "success", "status": 200,
			"time": "2026-05-01T10:00:00.123Z", "details": map[string]string{"format": "csv"}}
	}
	first := []any{event("e1", "EXPORT invoices"), event("e2", "DELETE invoices"),
		with(event("e3", "EXPORT invoices"), "actor", map[string]string{"type": "user", "id": ivy.id})}

	r := c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": first})
	if wantStatus(t, r, http.StatusOK) && (r.num("appended") != 3 || r.num("skipped") != 0 || r.num("head_seq") < 3) {
		t.Fatalf("append: %s", r)
	}
	r = c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": append(first, event("e4", "EXPORT invoices"))})
	if wantStatus(t, r, http.StatusOK) && (r.num("appended") != 1 || r.num("skipped") != 3 || r.num("head_seq") < 4) {
		t.Fatalf("retried append: %s", r)
	}

	// The trail also holds the records of this test's own requests (the function edge records
	// every request), so the pages are of the appended events alone: those on resource inv_1.
	r = c.do(t, "GET", "/v1/audit/events?resource=inv_1&limit=3", key, nil)
	if !wantStatus(t, r, http.StatusOK) {
		return
	}
	items := r.items()
	if len(items) != 3 || items[0]["id"] != "e4" || items[2]["id"] != "e2" || r.str("next_cursor") == "" {
		t.Fatalf("first page: %s", r)
	}
	user := items[1]["actor"].(map[string]any)
	if user["type"] != "user" || !strings.HasPrefix(user["id"].(string), "psn_") || strings.Contains(r.String(), ivy.id) {
		t.Errorf("a user is not stored as a pseudonym: %v", user)
	}
	for _, it := range items {
		if got := outsiderHash(t, it); got != it["hash"] {
			t.Errorf("record %v: recomputed hash %s, stored %s", it["seq"], got, it["hash"])
		}
	}
	r = c.do(t, "GET", "/v1/audit/events?resource=inv_1&limit=3&cursor="+r.str("next_cursor"), key, nil)
	if wantStatus(t, r, http.StatusOK) && (len(r.items()) != 1 || r.items()[0]["id"] != "e1" || r.str("next_cursor") != "") {
		t.Errorf("second page: %s", r)
	}
	r = c.do(t, "GET", "/v1/audit/events?action=DELETE%20invoices", key, nil)
	if wantStatus(t, r, http.StatusOK) && (len(r.items()) != 1 || r.items()[0]["id"] != "e2") {
		t.Errorf("filter by action: %s", r)
	}

	r = c.do(t, "POST", "/v1/audit/verify", key, map[string]any{})
	if wantStatus(t, r, http.StatusOK) && (r.obj()["valid"] != true || r.num("head_seq") < 4 || len(r.str("public_key")) != 64) {
		t.Errorf("verify: %s", r)
	}

	t.Run("refused", func(t *testing.T) {
		wantProblem(t, c.do(t, "POST", "/v1/audit/events", bearer(ivy.token), map[string]any{"events": first}), http.StatusForbidden, "api_key_required")
		wantProblem(t, c.do(t, "GET", "/v1/audit/events", bearer(ivy.token), nil), http.StatusForbidden, "admin_required")
		wantProblem(t, c.do(t, "POST", "/v1/audit/verify", bearer(ivy.token), map[string]any{}), http.StatusForbidden, "admin_required")
		w := getWorld(t)
		r := c.do(t, "GET", "/v1/audit/events", hdr{"X-Api-Key": w.b.apiKey}, nil)
		if wantStatus(t, r, http.StatusOK) && strings.Contains(r.String(), "inv_1") {
			t.Errorf("another tenant sees the records: %s", r)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		wantProblem(t, c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": []any{with(event("x", "A"), "outcome", "ok")}}), http.StatusBadRequest, "invalid_audit_record")
		wantProblem(t, c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": []any{with(event("x", "A"), "extra", 1)}}), http.StatusBadRequest, "unknown_field")
		wantProblem(t, c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": []any{}}), http.StatusBadRequest, "missing_field")
		many := make([]any, 101)
		for i := range many {
			many[i] = event("m"+randomHex(4), "A")
		}
		wantProblem(t, c.do(t, "POST", "/v1/audit/events", key, map[string]any{"events": many}), http.StatusBadRequest, "too_many_events")
		wantProblem(t, c.do(t, "GET", "/v1/audit/events?cursor=zzz", key, nil), http.StatusBadRequest, "invalid_cursor")
		wantProblem(t, c.do(t, "GET", "/v1/audit/events?from=yesterday", key, nil), http.StatusBadRequest, "invalid_time")
		wantProblem(t, c.do(t, "POST", "/v1/audit/verify", key, map[string]any{"from_seq": 9, "to_seq": 2}), http.StatusBadRequest, "invalid_range")
	})
}

// outsiderHash recomputes a record's hash from its JSON as docs/api.md tells an outsider to:
// SHA-256 over the previous hash's bytes and the RFC 8785 encoding of the record without
// "hash". encoding/json sorts map keys and, without HTML escaping, writes these ASCII values
// exactly as RFC 8785 does.
func outsiderHash(t *testing.T, item map[string]any) string {
	t.Helper()
	rec := make(map[string]any, len(item))
	for k, v := range item {
		if k != "hash" {
			rec[k] = v
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		t.Fatal(err)
	}
	prev, err := hex.DecodeString(item["previous_hash"].(string))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append(prev, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...))
	return hex.EncodeToString(sum[:])
}
