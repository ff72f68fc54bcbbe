package e2e

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// TestMedia checks attachments through the gateway and the embedded S3: a member declares a
// file, uploads it with the presigned POST using nothing but net/http, completes it, and another
// member downloads the same bytes with the presigned link; completing before the upload, a wrong
// size, outsiders, other tenants and a retried declaration are answered as documented.
func TestMedia(t *testing.T) {
	w := getWorld(t)
	c := api()
	convID := createConversation(t, c, w.alice, "group", "Media "+suffix, w.bob.id)
	content := []byte("attachment " + marker())
	decl := map[string]any{"filename": "notes " + suffix + ".txt", "content_type": "text/plain", "size": len(content)}

	r := c.do(t, "POST", "/v1/conversations/"+convID+"/media", bearer(w.alice.token), decl)
	mustStatus(t, r, http.StatusCreated)
	med, _ := r.obj()["media"].(map[string]any)
	up, _ := r.obj()["upload"].(map[string]any)
	id, _ := med["id"].(string)
	if !strings.HasPrefix(id, "med_") || med["status"] != "pending" || med["uploader_id"] != w.alice.id || up == nil {
		t.Fatalf("declaration: %s", r)
	}

	wantProblem(t, c.do(t, "POST", "/v1/media/"+id+"/complete", bearer(w.alice.token), nil), http.StatusConflict, "upload_missing")
	r = c.do(t, "GET", "/v1/media/"+id, bearer(w.bob.token), nil)
	if wantStatus(t, r, http.StatusOK) && r.obj()["download"] != nil {
		t.Errorf("a pending media has a download link: %s", r)
	}

	if st := presignedPost(t, up, content); st >= 300 {
		t.Fatalf("upload answered %d", st)
	}
	r = c.do(t, "POST", "/v1/media/"+id+"/complete", bearer(w.alice.token), nil)
	if wantStatus(t, r, http.StatusOK) {
		if m, _ := r.obj()["media"].(map[string]any); m["status"] != "ready" {
			t.Errorf("complete: %s", r)
		}
	}
	mustStatus(t, c.do(t, "POST", "/v1/media/"+id+"/complete", bearer(w.alice.token), nil), http.StatusOK)
	wantProblem(t, c.do(t, "POST", "/v1/media/"+id+"/complete", bearer(w.bob.token), nil), http.StatusNotFound, "media_not_found")

	r = c.do(t, "GET", "/v1/media/"+id, bearer(w.bob.token), nil)
	mustStatus(t, r, http.StatusOK)
	dl, _ := r.obj()["download"].(map[string]any)
	link, _ := dl["url"].(string)
	if link == "" {
		t.Fatalf("no download link: %s", r)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Errorf("download: %d %q", resp.StatusCode, got)
	}

	t.Run("outsiders", func(t *testing.T) {
		wantProblem(t, c.do(t, "GET", "/v1/media/"+id, bearer(w.carol.token), nil), http.StatusNotFound, "media_not_found")
		wantProblem(t, c.do(t, "GET", "/v1/media/"+id, bearer(w.dave.token), nil), http.StatusNotFound, "media_not_found")
		wantProblem(t, c.do(t, "POST", "/v1/conversations/"+convID+"/media", bearer(w.carol.token), decl),
			http.StatusNotFound, "conversation_not_found")
		wantProblem(t, c.do(t, "POST", "/v1/conversations/"+convID+"/media", bearer(w.dave.token), decl),
			http.StatusNotFound, "conversation_not_found")
	})

	t.Run("bad declarations", func(t *testing.T) {
		path := "/v1/conversations/" + convID + "/media"
		wantProblem(t, c.do(t, "POST", path, bearer(w.alice.token), with(decl, "filename", "a/b")), http.StatusBadRequest, "invalid_filename")
		wantProblem(t, c.do(t, "POST", path, bearer(w.alice.token), with(decl, "content_type", "text")), http.StatusBadRequest, "invalid_content_type")
		wantProblem(t, c.do(t, "POST", path, bearer(w.alice.token), with(decl, "size", 100<<20+1)), http.StatusBadRequest, "invalid_size")
	})

	t.Run("wrong size is deleted", func(t *testing.T) {
		r := c.do(t, "POST", "/v1/conversations/"+convID+"/media", bearer(w.alice.token), with(decl, "size", 3))
		mustStatus(t, r, http.StatusCreated)
		m, _ := r.obj()["media"].(map[string]any)
		up, _ := r.obj()["upload"].(map[string]any)
		// S3 refuses the upload by its policy; the embedded server stores it, and completing
		// deletes it.
		if presignedPost(t, up, content) < 300 {
			wantProblem(t, c.do(t, "POST", "/v1/media/"+m["id"].(string)+"/complete", bearer(w.alice.token), nil),
				http.StatusUnprocessableEntity, "upload_mismatch")
		}
		wantProblem(t, c.do(t, "POST", "/v1/media/"+m["id"].(string)+"/complete", bearer(w.alice.token), nil),
			http.StatusConflict, "upload_missing")
	})

	t.Run("idempotent declaration", func(t *testing.T) {
		h := hdr{"Authorization": "Bearer " + w.alice.token, "Idempotency-Key": "media-" + marker()}
		first := c.do(t, "POST", "/v1/conversations/"+convID+"/media", h, decl)
		mustStatus(t, first, http.StatusCreated)
		second := c.do(t, "POST", "/v1/conversations/"+convID+"/media", h, decl)
		mustStatus(t, second, http.StatusOK)
		a, _ := first.obj()["media"].(map[string]any)
		b, _ := second.obj()["media"].(map[string]any)
		if a["id"] != b["id"] || second.obj()["upload"] == nil {
			t.Errorf("repeat: %s then %s", first, second)
		}
		wantProblem(t, c.do(t, "POST", "/v1/conversations/"+convID+"/media", h, with(decl, "size", 7)),
			http.StatusConflict, "idempotency_conflict")
	})
}

// presignedPost sends body with the presigned POST upload of a declaration and returns the status.
func presignedPost(t *testing.T, up map[string]any, body []byte) int {
	t.Helper()
	url, _ := up["url"].(string)
	fields, _ := up["fields"].(map[string]any)
	if url == "" || len(fields) == 0 {
		t.Fatalf("no presigned upload: %v", up)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		s, _ := v.(string)
		if err := mw.WriteField(k, s); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("file", "upload")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(body)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
