package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKeyService checks the key service's API through the gateway: the tenant's API key makes
// a key, encrypts and decrypts one item and a batch, rotates it (old ciphertexts still open),
// retires version 1, rewraps to version 2; a plain user is refused admin operations and keys
// that do not allow the user role; another tenant finds neither the key nor its ciphertexts;
// reserved names are refused; and a 1 MiB plaintext makes the round trip.
func TestKeyService(t *testing.T) {
	w := getWorld(t)
	c := api()
	key := hdr{"X-Api-Key": w.a.apiKey}
	keyB := hdr{"X-Api-Key": w.b.apiKey}
	name := "e2e-" + marker()
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	r := c.do(t, "POST", "/v1/keys", key, map[string]any{"name": name, "rotation_period": 86400})
	mustStatus(t, r, http.StatusCreated)
	wantFields(t, r, "name", "type", "versions", "primary_version", "min_decryption_version", "rotation_period",
		"next_rotation_at", "encrypt_roles", "decrypt_roles", "created_at", "updated_at")
	if v, ok := r.obj()["shredded_at"]; !ok || v != nil || len(r.obj()) != 12 {
		t.Errorf("want the 12 fields of a key, shredded_at null: %s", r)
	}
	if r.str("type") != "aes256-gcm96" || r.num("primary_version") != 1 || strings.Contains(string(r.raw), "wrapped") {
		t.Fatalf("created key: %s", r)
	}
	wantProblem(t, c.do(t, "POST", "/v1/keys", key, map[string]any{"name": name}), http.StatusConflict, "key_exists")

	r = c.do(t, "POST", "/v1/crypto/encrypt", key, map[string]any{"key": name, "plaintext": enc("first"), "context": "doc-1"})
	mustStatus(t, r, http.StatusOK)
	ct1 := r.str("ciphertext")
	if r.num("key_version") != 1 || !strings.HasPrefix(ct1, "caas:v1:"+name+":1:") {
		t.Fatalf("encrypt: %s", r)
	}
	r = c.do(t, "POST", "/v1/crypto/decrypt", key, map[string]any{"ciphertext": ct1, "context": "doc-1"})
	mustStatus(t, r, http.StatusOK)
	if r.str("plaintext") != enc("first") || r.str("key") != name || r.num("key_version") != 1 {
		t.Fatalf("decrypt: %s", r)
	}
	wantProblem(t, c.do(t, "POST", "/v1/crypto/decrypt", key, map[string]any{"ciphertext": ct1, "context": "doc-2"}),
		http.StatusBadRequest, "decryption_failed")
	wantProblem(t, c.do(t, "POST", "/v1/crypto/encrypt", key, map[string]any{"key": name, "plaintext": "not base64!"}),
		http.StatusBadRequest, "invalid_plaintext")

	t.Run("batch", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/crypto/encrypt", key, map[string]any{"key": name, "items": []map[string]string{
			{"plaintext": enc("a")}, {"plaintext": "%"}, {"plaintext": enc("c"), "context": "x"},
		}})
		mustStatus(t, r, http.StatusOK)
		items := r.items()
		if len(items) != 3 || items[0]["ciphertext"] == nil || items[1]["error"] == nil || items[2]["ciphertext"] == nil {
			t.Fatalf("encrypt batch: %s", r)
		}
		r = c.do(t, "POST", "/v1/crypto/decrypt", key, map[string]any{"items": []map[string]string{
			{"ciphertext": items[0]["ciphertext"].(string)},
			{"ciphertext": "garbage"},
			{"ciphertext": items[2]["ciphertext"].(string), "context": "x"},
		}})
		mustStatus(t, r, http.StatusOK)
		out := r.items()
		if len(out) != 3 || out[0]["plaintext"] != enc("a") || out[2]["plaintext"] != enc("c") {
			t.Fatalf("decrypt batch: %s", r)
		}
		if e, _ := out[1]["error"].(map[string]any); e == nil || e["code"] != "invalid_ciphertext" {
			t.Fatalf("decrypt batch item 1: %s", r)
		}
	})

	r = c.do(t, "POST", "/v1/keys/"+name+"/rotate", key, nil)
	mustStatus(t, r, http.StatusOK)
	if r.num("primary_version") != 2 {
		t.Fatalf("rotate: %s", r)
	}
	r = c.do(t, "POST", "/v1/crypto/decrypt", key, map[string]any{"ciphertext": ct1, "context": "doc-1"})
	if wantStatus(t, r, http.StatusOK) && r.str("plaintext") != enc("first") {
		t.Fatalf("old ciphertext after rotation: %s", r)
	}
	r = c.do(t, "POST", "/v1/crypto/rewrap", key, map[string]any{"ciphertext": ct1, "context": "doc-1"})
	mustStatus(t, r, http.StatusOK)
	ct2 := r.str("ciphertext")
	if r.num("key_version") != 2 || !strings.HasPrefix(ct2, "caas:v1:"+name+":2:") {
		t.Fatalf("rewrap: %s", r)
	}
	// Version 1 was the primary moments ago, so retiring it is refused until no instance can
	// still be encrypting with it; Retry-After says when.
	r = c.do(t, "PATCH", "/v1/keys/"+name, key, map[string]any{"min_decryption_version": 2})
	if r.status == http.StatusConflict {
		wantProblem(t, r, http.StatusConflict, "key_version_in_use")
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 10 {
			t.Fatalf("key_version_in_use with Retry-After %q", r.header.Get("Retry-After"))
		}
		time.Sleep(time.Duration(wait) * time.Second)
		r = c.do(t, "PATCH", "/v1/keys/"+name, key, map[string]any{"min_decryption_version": 2})
	}
	if wantStatus(t, r, http.StatusOK) && r.num("min_decryption_version") != 2 {
		t.Fatalf("patch: %s", r)
	}
	// Other function instances see a key's new versions and policy within the key service's
	// metadata TTL (5 s).
	wantProblem(t, eventually(t, c, "/v1/crypto/decrypt", key, map[string]any{"ciphertext": ct1, "context": "doc-1"},
		http.StatusBadRequest), http.StatusBadRequest, "key_version_retired")
	r = eventually(t, c, "/v1/crypto/decrypt", key, map[string]any{"ciphertext": ct2, "context": "doc-1"}, http.StatusOK)
	if wantStatus(t, r, http.StatusOK) && (r.str("plaintext") != enc("first") || r.num("key_version") != 2) {
		t.Fatalf("rewrapped ciphertext: %s", r)
	}
	r = c.do(t, "GET", "/v1/keys/"+name, key, nil)
	if wantStatus(t, r, http.StatusOK) && (len(r.obj()["versions"].([]any)) != 2 || strings.Contains(string(r.raw), "wrapped")) {
		t.Fatalf("get: %s", r)
	}
	r = c.do(t, "GET", "/v1/keys?limit=100", key, nil)
	mustStatus(t, r, http.StatusOK)
	if _, ok := r.obj()["next_cursor"]; !ok {
		t.Errorf("list has no next_cursor: %s", r)
	}

	t.Run("a plain user", func(t *testing.T) {
		u := bearer(w.alice.token)
		wantProblem(t, c.do(t, "POST", "/v1/keys", u, map[string]any{"name": "u-" + marker()}), http.StatusForbidden, "admin_required")
		wantProblem(t, c.do(t, "GET", "/v1/keys", u, nil), http.StatusForbidden, "admin_required")
		wantProblem(t, c.do(t, "POST", "/v1/keys/"+name+"/rotate", u, nil), http.StatusForbidden, "admin_required")
		wantProblem(t, c.do(t, "POST", "/v1/crypto/encrypt", u, map[string]any{"key": name, "plaintext": enc("x")}),
			http.StatusForbidden, "key_forbidden")
		wantProblem(t, c.do(t, "POST", "/v1/crypto/decrypt", u, map[string]any{"ciphertext": ct2, "context": "doc-1"}),
			http.StatusForbidden, "key_forbidden")
		open := "open-" + marker()
		mustStatus(t, c.do(t, "POST", "/v1/keys", key, map[string]any{"name": open, "encrypt_roles": []string{"admin", "user"},
			"decrypt_roles": []string{"admin", "user"}}), http.StatusCreated)
		r := c.do(t, "POST", "/v1/crypto/encrypt", u, map[string]any{"key": open, "plaintext": enc("mine")})
		mustStatus(t, r, http.StatusOK)
		r = c.do(t, "POST", "/v1/crypto/decrypt", u, map[string]any{"ciphertext": r.str("ciphertext")})
		if wantStatus(t, r, http.StatusOK) && r.str("plaintext") != enc("mine") {
			t.Errorf("user round trip: %s", r)
		}
	})

	t.Run("another tenant", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/keys/"+name, keyB, nil), http.StatusNotFound, "key_not_found")
		wantProblem(t, c.do(t, "POST", "/v1/crypto/decrypt", keyB, map[string]any{"ciphertext": ct2, "context": "doc-1"}),
			http.StatusNotFound, "key_not_found")
		mustStatus(t, c.do(t, "POST", "/v1/keys", keyB, map[string]any{"name": name}), http.StatusCreated)
		wantProblem(t, c.do(t, "POST", "/v1/crypto/decrypt", keyB, map[string]any{"ciphertext": ct1, "context": "doc-1"}),
			http.StatusBadRequest, "decryption_failed")
	})

	t.Run("reserved names", func(t *testing.T) {
		wantProblem(t, c.do(t, "POST", "/v1/keys", key, map[string]any{"name": "caas.mine"}), http.StatusForbidden, "reserved_key")
		wantProblem(t, c.do(t, "POST", "/v1/crypto/encrypt", key, map[string]any{"key": "caas.secrets", "plaintext": enc("x")}),
			http.StatusForbidden, "reserved_key")
	})

	t.Run("a 1 MiB plaintext", func(t *testing.T) {
		big := make([]byte, 1<<20)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		r := c.do(t, "POST", "/v1/crypto/encrypt", key, map[string]any{"key": name, "plaintext": base64.StdEncoding.EncodeToString(big)})
		mustStatus(t, r, http.StatusOK)
		r = c.do(t, "POST", "/v1/crypto/decrypt", key, map[string]any{"ciphertext": r.str("ciphertext")})
		mustStatus(t, r, http.StatusOK)
		got, err := base64.StdEncoding.DecodeString(r.str("plaintext"))
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("1 MiB round trip: %d bytes, %v", len(got), err)
		}
	})
}

// eventually repeats a POST until it answers want, for at most 10 s, and returns the last answer.
func eventually(t *testing.T, c *client, path string, h hdr, body any, want int) *reply {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do(t, "POST", path, h, body)
		if r.status == want || time.Now().After(deadline) {
			return r
		}
		time.Sleep(250 * time.Millisecond)
	}
}
