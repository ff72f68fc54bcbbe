package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestGDPRExport checks an export end to end through caas run: a user sends messages and
// consents, asks for an export (202 pending), the worker builds it from the Kafka job event,
// GET answers ready with a presigned link, and the downloaded ZIP holds the user's decrypted
// messages, consents and the Art. 15 information. Other users and tenants see nothing.
func TestGDPRExport(t *testing.T) {
	w := getWorld(t)
	c := api()
	eve, err := registerAndLogin(c, w.a, "exporter")
	if err != nil {
		t.Fatal(err)
	}
	conv1 := createConversation(t, c, eve, "group", "export one", w.bob.id)
	conv2 := createConversation(t, c, eve, "group", "export two", w.bob.id)
	body1, body2 := "first "+marker(), "second "+marker()
	mustSend(t, c, eve, conv1, "exp-"+marker(), body1)
	mustSend(t, c, eve, conv2, "exp-"+marker(), body2)
	// A declared attachment (still pending) is listed as a reference.
	r0 := c.do(t, "POST", "/v1/conversations/"+conv1+"/media", bearer(eve.token),
		map[string]any{"filename": "export.pdf", "content_type": "application/pdf", "size": 1234})
	mustStatus(t, r0, http.StatusCreated)
	mediaRef, _ := r0.obj()["media"].(map[string]any)
	r := c.do(t, "POST", "/v1/gdpr/consents", bearer(eve.token),
		map[string]any{"purpose": "marketing", "policy_version": "1", "granted": true})
	mustStatus(t, r, http.StatusCreated)

	r = c.do(t, "POST", "/v1/gdpr/exports", hdr{"Authorization": "Bearer " + eve.token, "Idempotency-Key": "exp-" + marker()}, map[string]any{})
	mustStatus(t, r, http.StatusAccepted)
	wantFields(t, r, "id", "user_id", "status", "created_at")
	id := r.str("id")
	if r.str("status") != "pending" || r.str("user_id") != eve.id {
		t.Fatalf("start: %s", r)
	}

	wantProblem(t, c.do(t, "GET", "/v1/gdpr/exports/"+id, bearer(w.bob.token), nil), http.StatusForbidden, "admin_required")
	wantProblem(t, c.do(t, "GET", "/v1/gdpr/exports/"+id, hdr{"X-Api-Key": w.b.apiKey}, nil), http.StatusNotFound, "export_not_found")
	wantProblem(t, c.do(t, "POST", "/v1/gdpr/exports", bearer(w.bob.token), map[string]any{"user_id": eve.id}),
		http.StatusForbidden, "admin_required")

	deadline := time.Now().Add(60 * time.Second)
	for {
		r = c.do(t, "GET", "/v1/gdpr/exports/"+id, bearer(eve.token), nil)
		mustStatus(t, r, http.StatusOK)
		if r.str("status") == "ready" || r.str("status") == "failed" || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if r.str("status") != "ready" || r.str("download_url") == "" || r.str("download_url_expires_at") == "" || r.str("expires_at") == "" {
		t.Fatalf("export not ready: %s", r)
	}
	// The tenant's API key reads it too.
	mustStatus(t, c.do(t, "GET", "/v1/gdpr/exports/"+id, hdr{"X-Api-Key": w.a.apiKey}, nil), http.StatusOK)

	resp, err := http.Get(r.str("download_url"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %d %s", resp.StatusCode, data)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = b
	}
	for _, name := range []string{"profile.json", "sessions.json", "conversations.json", "messages.json", "media.json",
		"consents.json", "audit.json", "information.json", "manifest.json"} {
		if !json.Valid(files[name]) {
			t.Fatalf("%s missing or not JSON", name)
		}
	}
	var messages []struct {
		Body           string `json:"body"`
		ConversationID string `json:"conversation_id"`
		BodyStatus     string `json:"body_status"`
	}
	if err := json.Unmarshal(files["messages.json"], &messages); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range messages {
		got[m.ConversationID] = m.Body
	}
	if len(messages) != 2 || got[conv1] != body1 || got[conv2] != body2 {
		t.Fatalf("messages: %s", files["messages.json"])
	}
	var mediaFile struct {
		Items []struct {
			ID             string `json:"id"`
			ConversationID string `json:"conversation_id"`
			Filename       string `json:"filename"`
			ContentType    string `json:"content_type"`
			Size           int64  `json:"size"`
			Status         string `json:"status"`
			CreatedAt      string `json:"created_at"`
		} `json:"items"`
	}
	if err := json.Unmarshal(files["media.json"], &mediaFile); err != nil {
		t.Fatal(err)
	}
	if len(mediaFile.Items) != 1 || mediaFile.Items[0].ID != mediaRef["id"] || mediaFile.Items[0].ConversationID != conv1 ||
		mediaFile.Items[0].Filename != "export.pdf" || mediaFile.Items[0].Size != 1234 || mediaFile.Items[0].Status != "pending" ||
		mediaFile.Items[0].ContentType != "application/pdf" || mediaFile.Items[0].CreatedAt == "" {
		t.Fatalf("media.json: %s", files["media.json"])
	}
	var consents []struct {
		Purpose string `json:"purpose"`
	}
	_ = json.Unmarshal(files["consents.json"], &consents)
	if len(consents) != 1 || consents[0].Purpose != "marketing" {
		t.Fatalf("consents: %s", files["consents.json"])
	}
	var conversations []map[string]any
	_ = json.Unmarshal(files["conversations.json"], &conversations)
	if len(conversations) != 2 {
		t.Fatalf("conversations: %s", files["conversations.json"])
	}
	var profile struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(files["profile.json"], &profile)
	if profile.ID != eve.id {
		t.Fatalf("profile: %s", files["profile.json"])
	}
	var info map[string]any
	_ = json.Unmarshal(files["information.json"], &info)
	for _, k := range []string{"purposes", "categories", "retention", "recipients", "source", "rights"} {
		if info[k] == nil {
			t.Fatalf("information.json lacks %s", k)
		}
	}
}
