package media_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/media"
	"caas.dev/shared/s3"
)

// call runs h as the edge would for caller, with the given headers, path parameters and body.
func call(t *testing.T, h edge.HandlerFunc, caller edge.Identity, method, path string, hdrs, params map[string]string, body string) (int, map[string]any) {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{RawPath: path, Headers: hdrs, PathParameters: params, Body: body}
	ev.RequestContext.HTTP.Method = method
	ev.RequestContext.RequestID = "req-1"
	resp, err := h(edge.WithCaller(t.Context(), caller), &edge.Request{APIGatewayV2HTTPRequest: ev})
	if err != nil {
		resp = edge.ProblemFor(err, "req-1")
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		t.Fatalf("%s %s: body %q: %v", method, path, resp.Body, err)
	}
	return resp.StatusCode, out
}

func TestHandlers(t *testing.T) {
	f := newFixture(t)
	h := media.NewHandlers(f.svc)
	path := "/v1/conversations/" + f.conv + "/media"
	params := map[string]string{"id": f.conv}
	const decl = `{"filename":"a.txt","content_type":"text/plain","size":5}`

	status, body := call(t, h.UploadMedia, f.ann, "POST", path, map[string]string{"Idempotency-Key": "h1"}, params, decl)
	m, _ := body["media"].(map[string]any)
	up, _ := body["upload"].(map[string]any)
	fields, _ := up["fields"].(map[string]any)
	if status != http.StatusCreated || m["status"] != "pending" || m["size"] != 5.0 || up["method"] != "POST" ||
		up["url"] == "" || fields["key"] == nil || up["expires_at"] == "" {
		t.Fatalf("declare: %d %v", status, body)
	}
	id, _ := m["id"].(string)
	status, again := call(t, h.UploadMedia, f.ann, "POST", path, map[string]string{"Idempotency-Key": "h1"}, params, decl)
	if am, _ := again["media"].(map[string]any); status != http.StatusOK || am["id"] != id {
		t.Errorf("repeat: %d %v", status, again)
	}
	status, p := call(t, h.UploadMedia, f.ann, "POST", path, nil, params, `{"filename":"a.txt","content_type":"text/plain","size":"5"}`)
	if status != http.StatusBadRequest || p["code"] != "wrong_type" {
		t.Errorf("size as a string: %d %v", status, p)
	}

	idParams := map[string]string{"id": id}
	status, p = call(t, h.CompleteUpload, f.ann, "POST", "/v1/media/"+id+"/complete", nil, idParams, "")
	if status != http.StatusConflict || p["code"] != "upload_missing" {
		t.Errorf("complete before upload: %d %v", status, p)
	}
	var upload struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	raw, _ := json.Marshal(up)
	_ = json.Unmarshal(raw, &upload)
	// A server that checks the policy refuses the wrong size (nothing is stored: 409); one that
	// does not (the embedded one) stores it, and completing deletes it (422).
	refused := post(t, &s3.PostUpload{URL: upload.URL, Fields: upload.Fields}, []byte("wrong size")) >= 300
	status, p = call(t, h.CompleteUpload, f.ann, "POST", "/v1/media/"+id+"/complete", nil, idParams, "")
	if refused && (status != http.StatusConflict || p["code"] != "upload_missing") ||
		!refused && (status != http.StatusUnprocessableEntity || p["code"] != "upload_mismatch") {
		t.Errorf("complete after a wrong upload (refused by the server: %v): %d %v", refused, status, p)
	}

	status, body = call(t, h.GetMedia, f.bob, "GET", "/v1/media/"+id, nil, idParams, "")
	if gm, _ := body["media"].(map[string]any); status != http.StatusOK || gm["id"] != id || body["download"] != nil {
		t.Errorf("get pending: %d %v", status, body)
	}
	status, p = call(t, h.GetMedia, f.dan, "GET", "/v1/media/"+id, nil, idParams, "")
	if status != http.StatusNotFound || p["code"] != "media_not_found" {
		t.Errorf("get from another tenant: %d %v", status, p)
	}
}
