package e2e

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/chat"
	keyservice "caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

// TestGDPRErasure erases a user who sent a message: the other member reads it as erased, the
// user's tokens, refresh token and password are refused, no database document or Kafka event
// holds the message's plaintext, its ciphertext can no longer be opened, the audit chain still
// verifies and the user's pseudonym names no one.
func TestGDPRErasure(t *testing.T) {
	w := getWorld(t)
	c := api()
	key := hdr{"X-Api-Key": w.a.apiKey}
	eve, err := registerAndLogin(c, w.a, "erasee")
	if err != nil {
		t.Fatal(err)
	}
	finn, err := registerAndLogin(c, w.a, "erasewitness")
	if err != nil {
		t.Fatal(err)
	}
	// A second session of eve's, whose refresh token must die with her.
	r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": w.a.id}, map[string]string{"email": eve.email, "password": eve.password})
	mustStatus(t, r, http.StatusOK)
	refresh := r.str("refresh_token")

	conv := createConversation(t, c, eve, "direct", "", finn.id)
	mk := marker()
	body := "erase me " + mk
	// Sent directly rather than through sendMessage: the tests that read back every sent message
	// must not expect this one's body.
	r = c.do(t, "POST", "/v1/conversations/"+conv+"/messages", bearer(eve.token), map[string]string{"client_msg_id": "erase-1", "body": body})
	mustStatus(t, r, http.StatusCreated)
	msgID := r.str("id")
	mustSend(t, c, finn, conv, "erase-finn-1", "finn stays "+marker())
	// An attachment of eve's, uploaded and completed: the erasure deletes it.
	file := []byte("eve's file " + marker())
	r = c.do(t, "POST", "/v1/conversations/"+conv+"/media", bearer(eve.token),
		map[string]any{"filename": "eve.txt", "content_type": "text/plain", "size": len(file)})
	mustStatus(t, r, http.StatusCreated)
	eveMedia, _ := r.obj()["media"].(map[string]any)
	eveMediaID, _ := eveMedia["id"].(string)
	up, _ := r.obj()["upload"].(map[string]any)
	if st := presignedPost(t, up, file); st >= 300 {
		t.Fatalf("upload of eve's file: %d", st)
	}
	mustStatus(t, c.do(t, "POST", "/v1/media/"+eveMediaID+"/complete", bearer(eve.token), nil), http.StatusOK)
	mustStatus(t, c.do(t, "GET", "/v1/media/"+eveMediaID, bearer(finn.token), nil), http.StatusOK)

	db := openRawMongo(t)
	ct := messageCiphertext(t, db, msgID)
	ks := localKeyService(t)
	if ks != nil {
		pt, err := ks.Decrypt(t.Context(), w.a.id, ct, chat.BodyContext(conv, msgID))
		if err != nil || string(pt) != body {
			t.Fatalf("the body opens before the erasure = %q, %v", pt, err)
		}
	}
	if n := userKeyVersions(t, db, w.a.id, eve.id); n == 0 {
		t.Fatalf("eve has no key versions before the erasure: the check below could not fail")
	}

	erase := func(h hdr, userID string) *reply {
		return c.do(t, "POST", "/v1/gdpr/erasures", h, map[string]string{"user_id": userID})
	}
	t.Run("refused", func(t *testing.T) {
		wantProblem(t, erase(bearer(finn.token), eve.id), http.StatusForbidden, "admin_required")
		wantProblem(t, erase(hdr{"X-Api-Key": w.b.apiKey}, eve.id), http.StatusNotFound, "user_not_found")
		wantProblem(t, erase(key, "usr_nobody"), http.StatusNotFound, "user_not_found")
	})

	// Eve erases herself.
	r = c.do(t, "POST", "/v1/gdpr/erasures", hdr{"Authorization": "Bearer " + eve.token, "Idempotency-Key": "erase-eve-" + suffix}, map[string]string{})
	mustStatus(t, r, http.StatusCreated)
	receipt := r.obj()
	eraID := r.str("id")
	if !strings.HasPrefix(eraID, "era_") || r.str("user_id") != eve.id || r.str("requested_by") != eve.id ||
		r.str("status") != "completed" || r.str("audit_pseudonym") != "unlinked" {
		t.Errorf("receipt: %s", r)
	}
	steps := map[string]map[string]any{}
	for _, s := range receipt["steps"].([]any) {
		m := s.(map[string]any)
		steps[m["step"].(string)] = m
	}
	for name, outcome := range map[string]string{"sessions": "ended", "refresh_tokens": "deleted", "mfa": "deleted",
		"profile": "deleted", "key": "shredded", "export_archives": "deleted", "export_jobs": "deleted",
		"media": "deleted", "search": "none stored", "consents": "kept", "audit_record": "appended",
		"audit_pseudonym": "unlinked"} {
		if steps[name]["outcome"] != outcome {
			t.Errorf("step %s = %v, want outcome %q", name, steps[name], outcome)
		}
	}
	if steps["sessions"]["count"] != float64(2) || steps["profile"]["count"] != float64(1) {
		t.Errorf("sessions %v, profile %v: want 2 sessions ended and 1 profile deleted", steps["sessions"], steps["profile"])
	}
	if steps["media"]["count"] != float64(1) {
		t.Errorf("media %v: want 1 deleted", steps["media"])
	}
	wantProblem(t, c.do(t, "GET", "/v1/media/"+eveMediaID, bearer(finn.token), nil), http.StatusNotFound, "media_not_found")

	// A repeat answers the receipt; an admin reads it; nobody else.
	r = erase(key, eve.id)
	if wantStatus(t, r, http.StatusOK) && r.str("id") != eraID {
		t.Errorf("repeat: %s", r)
	}
	r = c.do(t, "GET", "/v1/gdpr/erasures/"+eraID, key, nil)
	if wantStatus(t, r, http.StatusOK) && (r.str("id") != eraID || len(r.obj()["steps"].([]any)) != 12) {
		t.Errorf("read receipt: %s", r)
	}
	wantProblem(t, c.do(t, "GET", "/v1/gdpr/erasures/"+eraID, bearer(finn.token), nil), http.StatusForbidden, "admin_required")
	wantProblem(t, c.do(t, "GET", "/v1/gdpr/erasures/"+eraID, hdr{"X-Api-Key": w.b.apiKey}, nil), http.StatusNotFound, "erasure_not_found")

	// Finn sees eve's message as erased, his own as it was.
	r = c.do(t, "GET", "/v1/conversations/"+conv+"/messages", bearer(finn.token), nil)
	if wantStatus(t, r, http.StatusOK) {
		found := false
		for _, m := range r.items() {
			if m["id"] == msgID {
				found = true
				if m["erased"] != true || m["body"] != "" {
					t.Errorf("eve's message after the erasure: %v", m)
				}
			} else if m["erased"] != nil {
				t.Errorf("finn's message is erased: %v", m)
			}
		}
		if !found {
			t.Errorf("eve's message is gone from the list: %s", r)
		}
	}

	// Eve can do nothing any more: her access token is refused once the authorizer's cache
	// expires, her refresh token and password at once; her email is free again.
	refused := false
	for deadline := time.Now().Add(revocationWait); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if r, err := c.send("GET", "/v1/users/me", bearer(eve.token), nil); err == nil && r.status == http.StatusForbidden {
			refused = true
			break
		}
	}
	if !refused {
		t.Errorf("eve's access token is still accepted")
	}
	wantProblem(t, c.do(t, "POST", "/v1/auth/refresh", nil, map[string]string{"refresh_token": refresh}), http.StatusUnauthorized)
	if _, err := login(c, eve); err == nil {
		t.Errorf("eve still logs in")
	}
	r = c.do(t, "POST", "/v1/auth/register", key, map[string]string{"email": eve.email, "password": eve.password, "display_name": "Eve again"})
	if wantStatus(t, r, http.StatusCreated) && r.str("user_id") == eve.id {
		t.Errorf("the new registration has the erased user's id: %s", r)
	}

	// The ciphertext stays where it was but opens no more: the key's versions are gone.
	if n := userKeyVersions(t, db, w.a.id, eve.id); n != 0 {
		t.Errorf("eve's key still has %d versions", n)
	}
	if ks != nil {
		// A key service that never saw the key (a cold instance, a restored backup) cannot open
		// it; one that cached it stops within the metadata cache time.
		if _, err := localKeyService(t).Decrypt(t.Context(), w.a.id, ct, chat.BodyContext(conv, msgID)); !errors.Is(err, keyservice.ErrKeyShredded) {
			t.Errorf("open eve's message after the erasure: %v, want key shredded", err)
		}
		deadline := time.Now().Add(keyservice.DefaultMetadataTTL + 5*time.Second)
		for {
			_, err := ks.Decrypt(t.Context(), w.a.id, ct, chat.BodyContext(conv, msgID))
			if errors.Is(err, keyservice.ErrKeyShredded) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("a key service that had the key cached still opens eve's message: %v", err)
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	t.Run("no plaintext in any database", func(t *testing.T) {
		docs, ids := scanAllDatabases(t, backendsOf(t, the).MongoURI, []string{mk}, []string{msgID})
		if docs == 0 || ids == 0 {
			t.Fatalf("scanned %d documents, %d holding eve's message id: the scan does not see the data", docs, ids)
		}
	})
	t.Run("no plaintext on the messages topic", func(t *testing.T) {
		events, err := readEvents(kafkaBrokers(t), map[string]sentMessage{msgID: {id: msgID, conversationID: conv, body: body}})
		if err != nil {
			t.Fatal(err)
		}
		seen := false
		for _, e := range events {
			if bytes.Contains(e.Value, []byte(msgID)) {
				seen = true
			}
			if bytes.Contains(e.Value, []byte(mk)) {
				t.Errorf("an event carries the plaintext marker: %s", e.Value)
			}
		}
		if !seen {
			t.Errorf("no event of eve's message on the topic: the scan does not see it")
		}
	})

	t.Run("audit chain verifies and the pseudonym names no one", func(t *testing.T) {
		action := url.QueryEscape("POST /v1/gdpr/erasures")
		subject := ""
		// The edge's record of the erasure request reaches the chain through the audit topic;
		// it computes eve's pseudonym again, after the erasure. Wait for it a little.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			r := c.do(t, "GET", "/v1/audit/events?action="+action, key, nil)
			mustStatus(t, r, http.StatusOK)
			edge := false
			for _, it := range r.items() {
				if it["resource"] == "erasure:"+eraID {
					d, _ := it["details"].(map[string]any)
					subject, _ = d["subject"].(string)
				} else {
					edge = true
				}
			}
			if subject != "" && edge || time.Now().After(deadline) {
				break
			}
		}
		psn, ok := strings.CutPrefix(subject, "user:")
		if !ok || !strings.HasPrefix(psn, "psn_") {
			t.Fatalf("no audit record of the erasure naming eve's pseudonym (subject %q)", subject)
		}
		r := c.do(t, "POST", "/v1/audit/verify", key, map[string]any{})
		if wantStatus(t, r, http.StatusOK) && r.obj()["valid"] != true {
			t.Errorf("verify after the erasure: %s", r)
		}
		links := db.Database(mongo.ComplianceDB).Collection("audit_pseudonyms")
		for _, f := range []bson.D{{{Key: "_id", Value: w.a.id + "|" + psn}}, {{Key: "user_id", Value: eve.id}}} {
			if n, err := links.CountDocuments(t.Context(), f); err != nil || n != 0 {
				t.Errorf("pseudonym links %v: %d, %v; want none", f, n, err)
			}
		}
		if n, err := links.CountDocuments(t.Context(), bson.D{{Key: "tenant_id", Value: w.a.id}, {Key: "user_id", Value: finn.id}}); err != nil || n == 0 {
			t.Logf("finn has no pseudonym link (%d, %v): the edge's records may not have arrived yet", n, err)
		}
	})
}

// openRawMongo connects to the platform's MongoDB for reading documents as stored.
func openRawMongo(t *testing.T) *driver.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := driver.Connect(ctx, options.Client().ApplyURI(backendsOf(t, the).MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	return client
}

// messageCiphertext returns the stored body ciphertext of a message.
func messageCiphertext(t *testing.T, db *driver.Client, msgID string) string {
	t.Helper()
	var doc struct {
		BodyCT string `bson:"body_ct"`
	}
	if err := db.Database(mongo.PlatformDB).Collection("messages").FindOne(t.Context(), bson.D{{Key: "_id", Value: msgID}}).Decode(&doc); err != nil {
		t.Fatalf("read message %s: %v", msgID, err)
	}
	if !strings.HasPrefix(doc.BodyCT, "caas:v1:caas.user.") {
		t.Fatalf("message %s has no body ciphertext under a user key: %q", msgID, doc.BodyCT)
	}
	return doc.BodyCT
}

// userKeyVersions counts the stored versions of the user's own key.
func userKeyVersions(t *testing.T, db *driver.Client, tenantID, userID string) int64 {
	t.Helper()
	n, err := db.Database(mongo.CryptoDB).Collection("key_versions").CountDocuments(t.Context(),
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "name", Value: keyservice.UserKeyName(userID)}})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// localKeyService opens a key service on the platform's key store and master key file, nil
// when the run's master key is a KMS key.
func localKeyService(t *testing.T) *keyservice.Service {
	t.Helper()
	if the.kmsKeyARN != "" {
		return nil
	}
	master, err := keyservice.OpenFileMaster(filepath.Join(the.stateDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := mongo.Open(t.Context(), backendsOf(t, the).MongoURI)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	ks, err := keyservice.New(keyservice.Config{Store: db.Keys(), Master: master})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// TestGDPRErasureGuards: a legal hold on the user, or on a conversation they are in, refuses
// the erasure (409 legal_hold, the reason not disclosed); parallel requests make one run, the
// others answer 409 erasure_in_progress with Retry-After or the completed receipt, which
// counts what was deleted; an admin still reads the erased user's kept consents.
func TestGDPRErasureGuards(t *testing.T) {
	w := getWorld(t)
	c := api()
	key := hdr{"X-Api-Key": w.a.apiKey}
	hal, err := registerAndLogin(c, w.a, "guardhal")
	if err != nil {
		t.Fatal(err)
	}
	jo, err := registerAndLogin(c, w.a, "guardjo")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, c.do(t, "POST", "/v1/gdpr/consents", bearer(hal.token),
		map[string]any{"purpose": "marketing", "policy_version": "1", "granted": true}), http.StatusCreated)
	erase := func() *reply {
		return c.do(t, "POST", "/v1/gdpr/erasures", key, map[string]string{"user_id": hal.id})
	}
	release := func(id string) {
		if r := c.do(t, "DELETE", "/v1/retention/holds/"+id, key, nil); r.status >= 300 {
			t.Fatalf("release hold: %s", r)
		}
	}

	reason := "secret case " + marker()
	r := c.do(t, "POST", "/v1/retention/holds", key, map[string]any{"user_id": hal.id, "reason": reason})
	mustStatus(t, r, http.StatusCreated)
	userHold := r.str("id")
	r = erase()
	wantProblem(t, r, http.StatusConflict, "legal_hold")
	if strings.Contains(string(r.raw), reason) || !strings.Contains(r.str("detail"), "user") {
		t.Errorf("refusal under a user hold: %s", r)
	}
	release(userHold)

	conv := createConversation(t, c, jo, "direct", "", hal.id)
	r = c.do(t, "POST", "/v1/retention/holds", key, map[string]any{"conversation_id": conv, "reason": reason})
	mustStatus(t, r, http.StatusCreated)
	convHold := r.str("id")
	r = erase()
	wantProblem(t, r, http.StatusConflict, "legal_hold")
	if strings.Contains(string(r.raw), reason) || !strings.Contains(r.str("detail"), "conversation") {
		t.Errorf("refusal under a conversation hold: %s", r)
	}
	// Hal is still there: his token works.
	mustStatus(t, c.do(t, "GET", "/v1/gdpr/consents", bearer(hal.token), nil), http.StatusOK)
	release(convHold)

	const n = 4
	replies := make([]*reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.send("POST", "/v1/gdpr/erasures", key, map[string]string{"user_id": hal.id})
		}()
	}
	wg.Wait()
	created := 0
	for i, r := range replies {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		switch r.status {
		case http.StatusCreated:
			created++
		case http.StatusOK:
			if r.str("status") != "completed" {
				t.Errorf("a parallel request answered an unfinished receipt: %s", r)
			}
		default:
			wantProblem(t, r, http.StatusConflict, "erasure_in_progress")
			if r.header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After: %s", r)
			}
		}
	}
	if created != 1 {
		t.Fatalf("%d parallel requests answered 201, want 1", created)
	}
	r = erase()
	mustStatus(t, r, http.StatusOK)
	counts := map[string]float64{}
	for _, s := range r.obj()["steps"].([]any) {
		m := s.(map[string]any)
		counts[m["step"].(string)], _ = m["count"].(float64)
	}
	for step, want := range map[string]float64{"sessions": 1, "refresh_tokens": 1, "profile": 1, "key": 1, "consents": 1, "audit_record": 1} {
		if counts[step] != want {
			t.Errorf("step %s count %v, want %v: %s", step, counts[step], want, r)
		}
	}

	r = c.do(t, "GET", "/v1/gdpr/consents?user_id="+hal.id, key, nil)
	if wantStatus(t, r, http.StatusOK) && (len(r.items()) != 1 || r.items()[0]["user_id"] != hal.id) {
		t.Errorf("kept consents of an erased user: %s", r)
	}
	wantProblem(t, c.do(t, "GET", "/v1/gdpr/consents?user_id="+hal.id, bearer(jo.token), nil), http.StatusForbidden, "admin_required")
	wantProblem(t, c.do(t, "GET", "/v1/gdpr/consents?user_id="+hal.id, hdr{"X-Api-Key": w.b.apiKey}, nil), http.StatusNotFound, "user_not_found")
}
