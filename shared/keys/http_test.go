package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/keys"
)

// Callers as the authorizer describes them.
var (
	apiKeyA = map[string]any{"tenant_id": "ten_a", "role": "admin", "actor": "api_key"}
	userA   = map[string]any{"tenant_id": "ten_a", "user_id": "usr_1", "session_id": "ses_1", "role": "user", "actor": "user"}
	apiKeyB = map[string]any{"tenant_id": "ten_b", "role": "admin", "actor": "api_key"}
)

// httpWorld drives the handlers as API Gateway would, through the edge, and remembers every
// answer so a test can check that none carries key material.
type httpWorld struct {
	*world
	h       *keys.Handlers
	answers []string
}

func newHTTPWorld(t *testing.T) *httpWorld {
	w := newWorld(t)
	return &httpWorld{world: w, h: keys.NewHandlers(w.svc)}
}

type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (a answer) code() string {
	c, _ := a.body["code"].(string)
	return c
}

// call runs handler with the caller, body, path parameters and query.
func (w *httpWorld) call(t *testing.T, handler edge.HandlerFunc, caller map[string]any, body string,
	path, query map[string]string,
) answer {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{Body: body, PathParameters: path, QueryStringParameters: query}
	ev.RequestContext.RequestID = "req"
	if caller != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: caller}
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	resp, err := edge.HTTP(log, handler)(context.Background(), ev)
	if err != nil {
		t.Fatalf("handler returned an error: %v", err)
	}
	w.answers = append(w.answers, resp.Body)
	a := answer{status: resp.StatusCode, raw: resp.Body}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &a.body); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %.200s", err, resp.Body)
		}
	}
	return a
}

func (w *httpWorld) want(t *testing.T, a answer, status int, code string) {
	t.Helper()
	if a.status != status || (code != "" && a.code() != code) {
		t.Fatalf("got %d %s, want %d %s: %.300s", a.status, a.code(), status, code, a.raw)
	}
}

// do is call without path parameters or query.
func (w *httpWorld) do(t *testing.T, handler edge.HandlerFunc, caller map[string]any, body string) answer {
	t.Helper()
	return w.call(t, handler, caller, body, nil, nil)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func name(n string) map[string]string { return map[string]string{"name": n} }

// noKeyMaterial checks that no answer held a wrapped data key, in any common encoding, nor
// names what wraps it.
func (w *httpWorld) noKeyMaterial(t *testing.T, tenantID string, names ...string) {
	t.Helper()
	for _, n := range names {
		k, err := w.store.Key(context.Background(), tenantID, n)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range k.Versions {
			forms := []string{
				base64.StdEncoding.EncodeToString(v.Wrapped), base64.RawURLEncoding.EncodeToString(v.Wrapped),
				hex.EncodeToString(v.Wrapped), v.WrappedBy,
			}
			for _, ans := range w.answers {
				for _, f := range forms {
					if f != "" && strings.Contains(ans, f) {
						t.Fatalf("an answer holds key material of %s v%d", n, v.Version)
					}
				}
				if strings.Contains(ans, "wrapped") {
					t.Fatalf("an answer names wrapped material: %.200s", ans)
				}
			}
		}
	}
}

func TestHTTPKeyLifecycle(t *testing.T) {
	w := newHTTPWorld(t)
	a := w.do(t, w.h.CreateKey, apiKeyA, `{"name":"docs","rotation_period":86400,"decrypt_roles":["admin","user"]}`)
	w.want(t, a, 201, "")
	for _, f := range []string{"name", "type", "versions", "primary_version", "min_decryption_version", "rotation_period",
		"next_rotation_at", "encrypt_roles", "decrypt_roles", "created_at", "updated_at", "shredded_at"} {
		if _, ok := a.body[f]; !ok {
			t.Errorf("key JSON lacks %s: %s", f, a.raw)
		}
	}
	if len(a.body) != 12 {
		t.Errorf("key JSON has %d fields: %s", len(a.body), a.raw)
	}
	if a.body["type"] != "aes256-gcm96" || a.body["primary_version"] != 1.0 || a.body["rotation_period"] != 86400.0 ||
		a.body["next_rotation_at"] == nil || a.body["shredded_at"] != nil {
		t.Errorf("created key: %s", a.raw)
	}
	vs, _ := a.body["versions"].([]any)
	if len(vs) != 1 || len(vs[0].(map[string]any)) != 2 {
		t.Errorf("versions: %s", a.raw)
	}

	// A retry of the create is a conflict: creating is not idempotent.
	w.want(t, w.do(t, w.h.CreateKey, apiKeyA, `{"name":"docs"}`), 409, "key_exists")

	a = w.call(t, w.h.RotateKey, apiKeyA, "", name("docs"), nil)
	w.want(t, a, 200, "")
	if a.body["primary_version"] != 2.0 {
		t.Fatalf("rotate: %s", a.raw)
	}
	// Version 1 was the primary a moment ago: other instances may still encrypt with it.
	a = w.call(t, w.h.UpdateKey, apiKeyA, `{"min_decryption_version":2}`, name("docs"), nil)
	w.want(t, a, 409, "key_version_in_use")
	w.clock.Advance(keys.DefaultMetadataTTL + 2*time.Second)
	a = w.call(t, w.h.UpdateKey, apiKeyA, `{"min_decryption_version":2,"rotation_period":0}`, name("docs"), nil)
	w.want(t, a, 200, "")
	if a.body["min_decryption_version"] != 2.0 || a.body["rotation_period"] != 0.0 || a.body["next_rotation_at"] != nil {
		t.Fatalf("patch: %s", a.raw)
	}
	if roles := a.body["decrypt_roles"].([]any); len(roles) != 2 {
		t.Fatalf("patch changed roles it was not given: %s", a.raw)
	}
	a = w.call(t, w.h.UpdateKey, apiKeyA, `{"min_decryption_version":3}`, name("docs"), nil)
	w.want(t, a, 400, "invalid_key_policy")
	if !strings.Contains(a.body["detail"].(string), "min_decryption_version") {
		t.Errorf("the refusal does not say why: %s", a.raw)
	}
	a = w.call(t, w.h.GetKey, apiKeyA, "", name("docs"), nil)
	w.want(t, a, 200, "")
	if a.body["name"] != "docs" || len(a.body["versions"].([]any)) != 2 {
		t.Fatalf("get: %s", a.raw)
	}
	w.want(t, w.call(t, w.h.GetKey, apiKeyA, "", name("nope"), nil), 404, "key_not_found")
	w.want(t, w.call(t, w.h.GetKey, apiKeyA, "", name("Bad Name"), nil), 400, "invalid_key_name")

	// Paging by name.
	for _, n := range []string{"b-key", "c-key"} {
		w.want(t, w.do(t, w.h.CreateKey, apiKeyA, js(t, map[string]string{"name": n})), 201, "")
	}
	var seen []string
	cursor := ""
	for range 5 {
		q := map[string]string{"limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		a = w.call(t, w.h.ListKeys, apiKeyA, "", nil, q)
		w.want(t, a, 200, "")
		for _, it := range a.body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["name"].(string))
		}
		cursor = a.body["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if got := strings.Join(seen, ","); got != "b-key,c-key,docs" {
		t.Fatalf("listed %s", got)
	}
	w.want(t, w.call(t, w.h.ListKeys, apiKeyA, "", nil, map[string]string{"cursor": "!!"}), 400, "invalid_cursor")
	w.want(t, w.call(t, w.h.ListKeys, apiKeyA, "", nil, map[string]string{"limit": "101"}), 400, "invalid_query")
	// Another tenant sees none of it.
	a = w.do(t, w.h.ListKeys, apiKeyB, "")
	if a.status != 200 || len(a.body["items"].([]any)) != 0 {
		t.Fatalf("tenant b lists %s", a.raw)
	}
	w.noKeyMaterial(t, "ten_a", "docs", "b-key", "c-key")
}

func TestHTTPRefusals(t *testing.T) {
	w := newHTTPWorld(t)
	w.want(t, w.do(t, w.h.CreateKey, apiKeyA, `{"name":"docs"}`), 201, "")
	cases := []struct {
		name    string
		handler edge.HandlerFunc
		caller  map[string]any
		body    string
		status  int
		code    string
	}{
		{"no caller", w.h.CreateKey, nil, `{"name":"x"}`, 401, ""},
		{"user creates", w.h.CreateKey, userA, `{"name":"x"}`, 403, "admin_required"},
		{"user lists", w.h.ListKeys, userA, ``, 403, "admin_required"},
		{"unknown field", w.h.CreateKey, apiKeyA, `{"name":"x","material":"k"}`, 400, "unknown_field"},
		{"empty create", w.h.CreateKey, apiKeyA, ``, 400, "empty_body"},
		{"missing name", w.h.CreateKey, apiKeyA, `{}`, 400, "missing_field"},
		{"reserved name", w.h.CreateKey, apiKeyA, `{"name":"caas.mine"}`, 403, "reserved_key"},
		{"bad name", w.h.CreateKey, apiKeyA, `{"name":"Docs!"}`, 400, "invalid_key_name"},
		{"short period", w.h.CreateKey, apiKeyA, `{"name":"x","rotation_period":60}`, 400, "invalid_key_policy"},
		{"negative period", w.h.CreateKey, apiKeyA, `{"name":"x","rotation_period":-3600}`, 400, "invalid_key_policy"},
		{"period as string", w.h.CreateKey, apiKeyA, `{"name":"x","rotation_period":"1h"}`, 400, "wrong_type"},
		{"unknown role", w.h.CreateKey, apiKeyA, `{"name":"x","encrypt_roles":["root"]}`, 400, "invalid_key_policy"},
		{"encrypt unknown field", w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":"","nonce":"x"}`, 400, "unknown_field"},
		{"encrypt malformed", w.h.Encrypt, apiKeyA, `{"key":"docs",`, 400, "malformed_json"},
		{"encrypt two values", w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":""} {}`, 400, "malformed_json"},
		{"encrypt empty", w.h.Encrypt, apiKeyA, ` `, 400, "empty_body"},
		{"encrypt no key", w.h.Encrypt, apiKeyA, `{"plaintext":"aGk="}`, 400, "missing_field"},
		{"encrypt neither", w.h.Encrypt, apiKeyA, `{"key":"docs"}`, 400, "missing_field"},
		{"encrypt both", w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":"aGk=","items":[]}`, 400, "invalid_field"},
		{"encrypt empty batch", w.h.Encrypt, apiKeyA, `{"key":"docs","items":[]}`, 400, "invalid_field"},
		{"not base64", w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":"not base64!"}`, 400, "invalid_plaintext"},
		{"unpadded base64", w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":"aGk"}`, 400, "invalid_plaintext"},
		{"missing key", w.h.Encrypt, apiKeyA, `{"key":"nope","plaintext":"aGk="}`, 404, "key_not_found"},
		{"user without role", w.h.Encrypt, userA, `{"key":"docs","plaintext":"aGk="}`, 403, "key_forbidden"},
		{"reserved encrypt", w.h.Encrypt, apiKeyA, `{"key":"caas.secrets","plaintext":"aGk="}`, 403, "reserved_key"},
		{"long context", w.h.Encrypt, apiKeyA, js(t, map[string]string{
			"key": "docs", "plaintext": "", "context": strings.Repeat("c", keys.MaxContextLength+1),
		}), 400, "context_too_long"},
		{"decrypt garbage", w.h.Decrypt, apiKeyA, `{"ciphertext":"hello"}`, 400, "invalid_ciphertext"},
		{"decrypt neither", w.h.Decrypt, apiKeyA, `{"context":"x"}`, 400, "missing_field"},
		{"rewrap garbage", w.h.Rewrap, apiKeyA, `{"ciphertext":"caas:v1:docs:1:AAAA"}`, 400, "invalid_ciphertext"},
		{"decrypt wrong type", w.h.Decrypt, apiKeyA, `{"ciphertext":5}`, 400, "wrong_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.want(t, w.call(t, c.handler, c.caller, c.body, nil, nil), c.status, c.code)
		})
	}
}

func TestHTTPBatchLimits(t *testing.T) {
	w := newHTTPWorld(t)
	w.want(t, w.do(t, w.h.CreateKey, apiKeyA, `{"name":"docs"}`), 201, "")
	items := make([]map[string]string, keys.MaxBatch+1)
	for i := range items {
		items[i] = map[string]string{"plaintext": b64("x")}
	}
	w.want(t, w.do(t, w.h.Encrypt, apiKeyA, js(t, map[string]any{"key": "docs", "items": items})), 400, "batch_too_large")
	a := w.do(t, w.h.Encrypt, apiKeyA, js(t, map[string]any{"key": "docs", "items": items[:keys.MaxBatch]}))
	w.want(t, a, 200, "")
	cts := make([]map[string]string, keys.MaxBatch+1)
	for i, it := range a.body["items"].([]any) {
		cts[i] = map[string]string{"ciphertext": it.(map[string]any)["ciphertext"].(string)}
	}
	cts[keys.MaxBatch] = cts[0]
	w.want(t, w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]any{"items": cts})), 400, "batch_too_large")
	w.want(t, w.do(t, w.h.Rewrap, apiKeyA, js(t, map[string]any{"items": cts})), 400, "batch_too_large")
	a = w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]any{"items": cts[:keys.MaxBatch]}))
	w.want(t, a, 200, "")
	if n := len(a.body["items"].([]any)); n != keys.MaxBatch {
		t.Fatalf("%d items", n)
	}

	// A 1 MiB plaintext is far over the body limit of other endpoints, and fine here.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	bigB64 := base64.StdEncoding.EncodeToString(big)
	a = w.do(t, w.h.Encrypt, apiKeyA, js(t, map[string]string{"key": "docs", "plaintext": bigB64}))
	w.want(t, a, 200, "")
	a = w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]string{"ciphertext": a.body["ciphertext"].(string)}))
	w.want(t, a, 200, "")
	if got, _ := base64.StdEncoding.DecodeString(a.body["plaintext"].(string)); !bytes.Equal(got, big) {
		t.Fatalf("1 MiB round trip gave %d bytes", len(got))
	}
	over := `{"key":"docs","plaintext":"` + strings.Repeat("A", keys.MaxCryptoBody) + `"}`
	w.want(t, w.do(t, w.h.Encrypt, apiKeyA, over), 413, "body_too_large")
	tooBig := base64.StdEncoding.EncodeToString(make([]byte, keys.MaxPlaintext+1))
	w.want(t, w.do(t, w.h.Encrypt, apiKeyA, `{"key":"docs","plaintext":"`+tooBig+`"}`), 413, "plaintext_too_large")
}

// One bad item of a batch fails alone, with its own code, in its own position.
func TestHTTPBatchItemsAreIndependent(t *testing.T) {
	w := newHTTPWorld(t)
	w.want(t, w.do(t, w.h.CreateKey, apiKeyA, `{"name":"docs"}`), 201, "")
	a := w.call(t, w.h.Encrypt, apiKeyA, js(t, map[string]any{"key": "docs", "items": []map[string]string{
		{"plaintext": b64("one"), "context": "c1"},
		{"plaintext": "%%%"},
		{"plaintext": b64("three"), "context": "c3"},
		{"plaintext": b64("four"), "context": strings.Repeat("c", keys.MaxContextLength+1)},
	}}), nil, nil)
	w.want(t, a, 200, "")
	items := a.body["items"].([]any)
	itemCode := func(it any) string {
		e, _ := it.(map[string]any)["error"].(map[string]any)
		c, _ := e["code"].(string)
		return c
	}
	if len(items) != 4 || itemCode(items[0]) != "" || itemCode(items[1]) != "invalid_plaintext" ||
		itemCode(items[2]) != "" || itemCode(items[3]) != "context_too_long" {
		t.Fatalf("encrypt batch: %s", a.raw)
	}
	if e := items[1].(map[string]any)["error"].(map[string]any); e["status"] != 400.0 || e["title"] == "" {
		t.Errorf("item error: %v", e)
	}
	ct1 := items[0].(map[string]any)["ciphertext"].(string)
	ct3 := items[2].(map[string]any)["ciphertext"].(string)
	if _, ok := items[1].(map[string]any)["ciphertext"]; ok {
		t.Errorf("a failed item has a ciphertext: %s", a.raw)
	}

	tampered := ct3[:len(ct3)-2] + map[bool]string{true: "AA", false: "BA"}[!strings.HasSuffix(ct3, "AA")]
	batch := []map[string]string{
		{"ciphertext": ct1, "context": "c1"},
		{"ciphertext": tampered, "context": "c3"},
		{"ciphertext": "not a ciphertext"},
		{"ciphertext": ct3, "context": "other"},
		{"ciphertext": ct3, "context": "c3"},
		{"ciphertext": strings.Replace(ct1, ":docs:", ":nope:", 1), "context": "c1"},
		{"ciphertext": ""},
	}
	a = w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]any{"items": batch}))
	w.want(t, a, 200, "")
	items = a.body["items"].([]any)
	want := []string{"", "decryption_failed", "invalid_ciphertext", "decryption_failed", "", "key_not_found", "missing_field"}
	for i, it := range items {
		if itemCode(it) != want[i] {
			t.Errorf("decrypt item %d: code %q, want %q", i, itemCode(it), want[i])
		}
	}
	first := items[0].(map[string]any)
	if first["plaintext"] != b64("one") || first["key"] != "docs" || first["key_version"] != 1.0 {
		t.Errorf("decrypt item 0: %v", first)
	}
	if items[4].(map[string]any)["plaintext"] != b64("three") {
		t.Errorf("decrypt item 4: %v", items[4])
	}

	w.want(t, w.call(t, w.h.RotateKey, apiKeyA, "", name("docs"), nil), 200, "")
	a = w.do(t, w.h.Rewrap, apiKeyA, js(t, map[string]any{"items": batch}))
	w.want(t, a, 200, "")
	items = a.body["items"].([]any)
	for i, it := range items {
		if itemCode(it) != want[i] {
			t.Errorf("rewrap item %d: code %q, want %q", i, itemCode(it), want[i])
		}
	}
	re := items[0].(map[string]any)
	if re["key_version"] != 2.0 || !strings.HasPrefix(re["ciphertext"].(string), "caas:v1:docs:2:") {
		t.Fatalf("rewrap item 0: %v", re)
	}
	a = w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]string{"ciphertext": re["ciphertext"].(string), "context": "c1"}))
	w.want(t, a, 200, "")
	if a.body["plaintext"] != b64("one") || a.body["key_version"] != 2.0 {
		t.Fatalf("rewrapped decrypt: %s", a.raw)
	}

	// A failure that concerns the key fails the whole encrypt batch.
	oneItem := js(t, map[string]any{"key": "docs", "items": []map[string]string{{"plaintext": ""}}})
	w.want(t, w.do(t, w.h.Encrypt, userA, oneItem), 403, "key_forbidden")

	// No answer shows a plaintext it was not asked for, nor key material.
	for _, ans := range w.answers {
		if strings.Contains(ans, "three") || strings.Contains(ans, "\"one\"") {
			t.Fatalf("a plaintext leaked: %.200s", ans)
		}
	}
	w.noKeyMaterial(t, "ten_a", "docs")
}

// Roles decide who may use a key; another tenant's caller does not find it.
func TestHTTPRolesAndTenants(t *testing.T) {
	w := newHTTPWorld(t)
	w.want(t, w.do(t, w.h.CreateKey, apiKeyA, `{"name":"shared","encrypt_roles":["admin","user"],"decrypt_roles":["admin"]}`), 201, "")
	a := w.do(t, w.h.Encrypt, userA, js(t, map[string]string{"key": "shared", "plaintext": b64("hello")}))
	w.want(t, a, 200, "")
	ct := a.body["ciphertext"].(string)
	w.want(t, w.do(t, w.h.Decrypt, userA, js(t, map[string]string{"ciphertext": ct})), 403, "key_forbidden")
	a = w.do(t, w.h.Decrypt, apiKeyA, js(t, map[string]string{"ciphertext": ct}))
	w.want(t, a, 200, "")
	if a.body["plaintext"] != b64("hello") {
		t.Fatalf("decrypt: %s", a.raw)
	}
	w.want(t, w.call(t, w.h.UpdateKey, apiKeyA, `{"decrypt_roles":["admin","user"]}`, name("shared"), nil), 200, "")
	w.want(t, w.do(t, w.h.Decrypt, userA, js(t, map[string]string{"ciphertext": ct})), 200, "")
	w.want(t, w.call(t, w.h.UpdateKey, userA, `{"decrypt_roles":["user"]}`, name("shared"), nil), 403, "admin_required")
	w.want(t, w.call(t, w.h.RotateKey, userA, "", name("shared"), nil), 403, "admin_required")

	w.want(t, w.call(t, w.h.GetKey, apiKeyB, "", name("shared"), nil), 404, "key_not_found")
	w.want(t, w.do(t, w.h.Decrypt, apiKeyB, js(t, map[string]string{"ciphertext": ct})), 404, "key_not_found")
	w.want(t, w.do(t, w.h.Encrypt, apiKeyB, js(t, map[string]string{"key": "shared", "plaintext": ""})), 404, "key_not_found")
	// Tenant b's own key of the same name does not open tenant a's ciphertext.
	w.want(t, w.do(t, w.h.CreateKey, apiKeyB, `{"name":"shared"}`), 201, "")
	w.want(t, w.do(t, w.h.Decrypt, apiKeyB, js(t, map[string]string{"ciphertext": ct})), 400, "decryption_failed")
	w.noKeyMaterial(t, "ten_a", "shared")
	w.noKeyMaterial(t, "ten_b", "shared")
}
