package gdpr

import (
	"context"
	"net/http"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
)

// ExportHandlers serves the export routes over an Exporter.
type ExportHandlers struct {
	x *Exporter
}

// NewExportHandlers returns the HTTP handlers of x.
func NewExportHandlers(x *Exporter) *ExportHandlers { return &ExportHandlers{x: x} }

// exportJSON is an export job as the API shows it.
type exportJSON struct {
	ID          string         `json:"id"`
	UserID      string         `json:"user_id"`
	Status      string         `json:"status"`
	RequestedBy string         `json:"requested_by"`
	Attempts    int            `json:"attempts"`
	Problem     string         `json:"problem,omitempty"`
	Counts      map[string]int `json:"counts,omitempty"`
	CreatedAt   string         `json:"created_at"`
	CompletedAt *string        `json:"completed_at"`
	ExpiresAt   *string        `json:"expires_at"`
	DownloadURL string         `json:"download_url,omitempty"`
	// URLExpiresAt is when download_url stops working.
	URLExpiresAt string `json:"download_url_expires_at,omitempty"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timeJSON(t)
	return &s
}

func toExportJSON(e Export, status string) exportJSON {
	return exportJSON{ID: e.ID, UserID: e.UserID, Status: status, RequestedBy: e.RequestedBy, Attempts: e.Attempts,
		Problem: e.Problem, Counts: e.Counts, CreatedAt: timeJSON(e.CreatedAt),
		CompletedAt: optTime(e.CompletedAt), ExpiresAt: optTime(e.ExpiresAt)}
}

// StartExport serves POST /v1/gdpr/exports with {"user_id"?}: 202 with the pending job. While
// an export of the user is pending or running it answers 200 with that job and starts nothing;
// with an Idempotency-Key header a repeat of the same request answers 200 with the first job;
// a different request with the key gets 409 idempotency_conflict.
func (h *ExportHandlers) StartExport(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	var in ExportRequest
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	retry, err := idempotency.FromHTTP(req, in)
	if err != nil {
		return nil, err
	}
	e, created, err := h.x.StartExport(ctx, caller, in, retry)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	return edge.JSON(status, toExportJSON(e, e.StatusAt(h.x.Clock.Now())))
}

// GetExport serves GET /v1/gdpr/exports/{id}: the job's status, times and counts and, while
// it is ready, a download link valid 15 minutes (download_url_expires_at).
func (h *ExportHandlers) GetExport(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	v, err := h.x.GetExport(ctx, caller, req.PathParam("id"))
	if err != nil {
		return nil, err
	}
	out := toExportJSON(v.Export, v.Status)
	if v.DownloadURL != "" {
		out.DownloadURL, out.URLExpiresAt = v.DownloadURL, timeJSON(v.URLExpiresAt)
	}
	return edge.JSON(http.StatusOK, out)
}
