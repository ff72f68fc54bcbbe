package gdpr

import (
	"context"
	"net/http"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
)

// Handlers serves the GDPR routes over a Service.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the HTTP handlers of svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// consentJSON is a consent record as the API shows it.
type consentJSON struct {
	ID            string `json:"id"`
	UserID        string `json:"user_id"`
	Purpose       string `json:"purpose"`
	PolicyVersion string `json:"policy_version"`
	Granted       bool   `json:"granted"`
	Source        string `json:"source"`
	RecordedAt    string `json:"recorded_at"`
	RecordedBy    string `json:"recorded_by"`
}

// currentJSON is the latest record of one purpose in a consent history.
type currentJSON struct {
	Granted       bool   `json:"granted"`
	PolicyVersion string `json:"policy_version"`
	RecordedAt    string `json:"recorded_at"`
	ConsentID     string `json:"consent_id"`
}

type historyJSON struct {
	Items      []consentJSON          `json:"items"`
	Current    map[string]currentJSON `json:"current"`
	NextCursor string                 `json:"next_cursor"`
}

// profileJSON is a user's profile as a rectification answers it.
type profileJSON struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	Role        string `json:"role"`
	CreatedAt   string `json:"created_at"`
}

func timeJSON(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func toConsentJSON(c Consent) consentJSON {
	return consentJSON{ID: c.ID, UserID: c.UserID, Purpose: c.Purpose, PolicyVersion: c.PolicyVersion,
		Granted: c.Granted, Source: c.Source, RecordedAt: timeJSON(c.RecordedAt), RecordedBy: c.RecordedBy}
}

// RecordConsent serves POST /v1/gdpr/consents with {"user_id"?, "purpose", "policy_version",
// "granted", "source"?}: 201 with the record. With an Idempotency-Key header a repeat of the
// same request answers 200 with the first record and appends nothing; a different request with
// the key gets 409 idempotency_conflict.
func (h *Handlers) RecordConsent(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	var in NewConsent
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	retry, err := idempotency.FromHTTP(req, in)
	if err != nil {
		return nil, err
	}

	c, created, err := h.svc.RecordConsent(ctx, caller, in, retry)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return edge.JSON(status, toConsentJSON(c))
}

// ListConsents serves GET /v1/gdpr/consents?user_id=&purpose=&cursor=&limit=: the user's
// records newest first and the current state per purpose (the latest record wins).
func (h *Handlers) ListConsents(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := req.QueryInt("limit", DefaultConsentLimit, 1, MaxConsentLimit)
	if err != nil {
		return nil, err
	}

	hist, err := h.svc.ListConsents(ctx, caller, req.Query("user_id"), req.Query("purpose"), req.Query("cursor"), limit)
	if err != nil {
		return nil, err
	}
	out := historyJSON{Items: make([]consentJSON, len(hist.Items)), Current: make(map[string]currentJSON, len(hist.Current)),
		NextCursor: hist.NextCursor}
	for i, c := range hist.Items {
		out.Items[i] = toConsentJSON(c)
	}
	for p, c := range hist.Current {
		out.Current[p] = currentJSON{Granted: c.Granted, PolicyVersion: c.PolicyVersion,
			RecordedAt: timeJSON(c.RecordedAt), ConsentID: c.ID}
	}
	return edge.JSON(http.StatusOK, out)
}

// Rectify serves PATCH /v1/gdpr/users/{id} with {"display_name"?, "email"?}: 200 with the
// corrected profile; 409 email_taken when another user of the tenant has the email.
func (h *Handlers) Rectify(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	var in ProfileUpdate
	if err := req.Decode(&in); err != nil {
		return nil, err
	}

	u, err := h.svc.Rectify(withRequestID(ctx, req.RequestID()), caller, req.PathParam("id"), in)
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, profileJSON{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName,
		Role: identity.RoleOf(u), CreatedAt: timeJSON(u.CreatedAt)})
}
