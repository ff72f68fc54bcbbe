package media

import (
	"context"
	"net/http"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
)

// Handlers serves the media routes over a Service.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the HTTP handlers of svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// mediaJSON is a media as the API shows it.
type mediaJSON struct {
	ID             string `json:"id"`
	ConversationID string `json:"conversation_id"`
	UploaderID     string `json:"uploader_id"`
	Filename       string `json:"filename"`
	ContentType    string `json:"content_type"`
	Size           int64  `json:"size"`
	Status         string `json:"status"`
	CreatedAt      string `json:"created_at"`
	ReadyAt        string `json:"ready_at,omitempty"`
}

// uploadJSON is the presigned upload of a pending media.
type uploadJSON struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Fields    map[string]string `json:"fields"`
	ExpiresAt string            `json:"expires_at"`
}

// downloadJSON is the presigned download of a ready media.
type downloadJSON struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

func timeJSON(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func toMediaJSON(m Media) mediaJSON {
	out := mediaJSON{ID: m.ID, ConversationID: m.ConversationID, UploaderID: m.UploaderID, Filename: m.Filename,
		ContentType: m.ContentType, Size: m.Size, Status: m.Status, CreatedAt: timeJSON(m.CreatedAt)}
	if !m.ReadyAt.IsZero() {
		out.ReadyAt = timeJSON(m.ReadyAt)
	}
	return out
}

// UploadMedia serves POST /v1/conversations/{id}/media with {"filename", "content_type",
// "size"}: 201 with {"media": …, "upload": {"method":"POST","url","fields","expires_at"}}.
// With an Idempotency-Key header a repeat answers 200 with the same media and a fresh upload.
func (h *Handlers) UploadMedia(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	var in NewUpload
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	retry, err := idempotency.FromHTTP(req, in)
	if err != nil {
		return nil, err
	}
	up, created, err := h.svc.UploadMedia(ctx, caller, req.PathParam("id"), in, retry)
	if err != nil {
		return nil, err
	}
	out := struct {
		Media  mediaJSON   `json:"media"`
		Upload *uploadJSON `json:"upload"`
	}{Media: toMediaJSON(up.Media)}
	if up.Request != nil {
		out.Upload = &uploadJSON{Method: http.MethodPost, URL: up.Request.URL, Fields: up.Request.Fields,
			ExpiresAt: timeJSON(up.ExpiresAt)}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return edge.JSON(status, out)
}

// CompleteUpload serves POST /v1/media/{id}/complete: 200 with the ready media; 409
// upload_missing, 422 upload_mismatch.
func (h *Handlers) CompleteUpload(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	m, err := h.svc.CompleteUpload(ctx, caller, req.PathParam("id"))
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, struct {
		Media mediaJSON `json:"media"`
	}{toMediaJSON(m)})
}

// GetMedia serves GET /v1/media/{id}: 200 with {"media": …, "download": {"url","expires_at"}}
// (download null while pending).
func (h *Handlers) GetMedia(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := h.svc.GetMedia(ctx, caller, req.PathParam("id"))
	if err != nil {
		return nil, err
	}
	out := struct {
		Media    mediaJSON     `json:"media"`
		Download *downloadJSON `json:"download"`
	}{Media: toMediaJSON(d.Media)}
	if d.URL != "" {
		out.Download = &downloadJSON{URL: d.URL, ExpiresAt: timeJSON(d.ExpiresAt)}
	}
	return edge.JSON(http.StatusOK, out)
}
