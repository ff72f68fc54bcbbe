package gdpr

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
)

// ErasureHandlers serves the erasure routes over an Eraser.
type ErasureHandlers struct {
	e *Eraser
}

// NewErasureHandlers returns the HTTP handlers of e.
func NewErasureHandlers(e *Eraser) *ErasureHandlers { return &ErasureHandlers{e: e} }

// EraseRequest is the body of POST /v1/gdpr/erasures.
type EraseRequest struct {
	// UserID is the user to erase; empty means the calling user.
	UserID string `json:"user_id,omitempty"`
}

// erasureStepJSON is one step of a receipt as the API shows it.
type erasureStepJSON struct {
	Step    string `json:"step"`
	Count   int64  `json:"count"`
	Outcome string `json:"outcome"`
	At      string `json:"at"`
}

// erasureJSON is a receipt as the API shows it.
type erasureJSON struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"tenant_id"`
	UserID         string            `json:"user_id"`
	RequestedBy    string            `json:"requested_by"`
	RequestedAt    string            `json:"requested_at"`
	Status         string            `json:"status"`
	CompletedAt    string            `json:"completed_at,omitempty"`
	Steps          []erasureStepJSON `json:"steps"`
	AuditPseudonym string            `json:"audit_pseudonym,omitempty"`
}

func toErasureJSON(er Erasure) erasureJSON {
	out := erasureJSON{ID: er.ID, TenantID: er.TenantID, UserID: er.UserID, RequestedBy: er.RequestedBy,
		RequestedAt: timeJSON(er.RequestedAt), Status: er.Status, AuditPseudonym: er.Pseudonym,
		Steps: []erasureStepJSON{}}
	if !er.CompletedAt.IsZero() {
		out.CompletedAt = timeJSON(er.CompletedAt)
	}
	for _, name := range ErasureSteps {
		if s, ok := er.Steps[name]; ok {
			out.Steps = append(out.Steps, erasureStepJSON{Step: name, Count: s.Count, Outcome: s.Outcome, At: timeJSON(s.At)})
		}
	}
	return out
}

// Erase serves POST /v1/gdpr/erasures with {"user_id"?}: 201 with the receipt when the user is
// erased now, 200 with the existing receipt when they were before. With an Idempotency-Key
// header a different request with the key gets 409 idempotency_conflict.
func (h *ErasureHandlers) Erase(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	var in EraseRequest
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	retry, err := idempotency.FromHTTP(req, in)
	if err != nil {
		return nil, err
	}

	er, created, err := h.e.Erase(withRequestID(ctx, req.RequestID()), caller, in.UserID, retry)
	if err != nil {
		return nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return edge.JSON(status, toErasureJSON(er))
}

// Get serves GET /v1/gdpr/erasures/{id}: the receipt, for a tenant admin.
func (h *ErasureHandlers) Get(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	er, err := h.e.Erasure(ctx, caller, req.PathParam("id"))
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, toErasureJSON(er))
}
