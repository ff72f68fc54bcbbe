package retention

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/identity"
)

// Handlers serves the retention routes over a Service. Every route is for tenant admins: a
// user with role admin or the tenant's API key.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the HTTP handlers of svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Forever is how a request spells "keep this data forever" for one period; in a tenant's
// policy null or an absent field says the same.
const Forever = "forever"

// periodsJSON is a policy's periods as the API takes them: a number of days from 1 to MaxDays,
// "forever", or null/absent (forever too). 0 is refused: it reads as "keep nothing" as well as
// "keep forever".
type periodsJSON struct {
	MessagesDays     json.RawMessage `json:"messages_days"`
	MediaDays        json.RawMessage `json:"media_days"`
	AuditRecordsDays json.RawMessage `json:"audit_records_days"`
	ExportsDays      json.RawMessage `json:"exports_days"`
	SessionsDays     json.RawMessage `json:"sessions_days"`
}

// parsePeriod reads one period of a request: nil for null or absent, 0 for "forever", else the
// days (1 to MaxDays are left to Validate; 0 is refused with ErrZeroPeriod).
func parsePeriod(field string, raw json.RawMessage) (*int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != Forever {
			return nil, fault.WithDetail(edge.ErrWrongType, field+`: must be a number of days, "forever" or null`)
		}
		zero := 0
		return &zero, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fault.WithDetail(edge.ErrWrongType, field+`: must be a number of days, "forever" or null`)
	}
	if n == 0 {
		return nil, fault.WithDetail(ErrZeroPeriod, field+`: 0 is not a period; send "forever" (or, in the tenant's policy, null) to keep the data forever`)
	}
	return &n, nil
}

// parsePeriods reads the named periods of a request in order.
func parsePeriods(fields []string, raws []json.RawMessage) ([]*int, error) {
	out := make([]*int, len(raws))
	for i, raw := range raws {
		p, err := parsePeriod(fields[i], raw)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func val(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// overridePeriod renders a conversation override's period: null (the tenant's period),
// "forever", or the days.
func overridePeriod(p *int) any {
	switch {
	case p == nil:
		return nil
	case *p == 0:
		return Forever
	}
	return *p
}

func ptr(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// policyJSON renders a policy: a period of 0 shows as null.
func policyJSON(p Policy) map[string]any {
	out := map[string]any{
		"messages_days": ptr(p.MessagesDays), "media_days": ptr(p.MediaDays),
		"audit_records_days": ptr(p.AuditRecordsDays), "exports_days": ptr(p.ExportsDays),
		"sessions_days": ptr(p.SessionsDays), "audit_records_floor_days": AuditFloorDays,
		"updated_at": nil, "updated_by": nil,
	}
	if !p.UpdatedAt.IsZero() {
		out["updated_at"], out["updated_by"] = p.UpdatedAt.UTC().Format(time.RFC3339Nano), p.UpdatedBy
	}
	return out
}

// requireAdmin returns the caller when it is a tenant admin (the API key or an admin user).
func requireAdmin(ctx context.Context) (edge.Identity, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return edge.Identity{}, err
	}
	if caller.Role != identity.RoleAdmin {
		return edge.Identity{}, identity.ErrAdminRequired
	}
	return caller, nil
}

// by names the caller in what it changed: the user id, or "api_key".
func by(c edge.Identity) string {
	if c.UserID != "" {
		return c.UserID
	}
	return c.Actor
}

// GetPolicy serves GET /v1/retention/policy: the tenant's periods in days (null: kept forever).
func (h *Handlers) GetPolicy(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.svc.Policy(ctx, caller.TenantID)
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, policyJSON(p))
}

// PutPolicy serves PUT /v1/retention/policy with the periods in days; an absent or null field,
// or "forever", keeps that data forever, and 0 is refused with ErrZeroPeriod. It answers the
// stored policy.
func (h *Handlers) PutPolicy(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var body periodsJSON
	if err := req.Decode(&body); err != nil {
		return nil, err
	}
	ps, err := parsePeriods([]string{"messages_days", "media_days", "audit_records_days", "exports_days", "sessions_days"},
		[]json.RawMessage{body.MessagesDays, body.MediaDays, body.AuditRecordsDays, body.ExportsDays, body.SessionsDays})
	if err != nil {
		return nil, err
	}
	p, err := h.svc.PutPolicy(ctx, caller.TenantID, by(caller), Periods{
		MessagesDays: val(ps[0]), MediaDays: val(ps[1]), AuditRecordsDays: val(ps[2]),
		ExportsDays: val(ps[3]), SessionsDays: val(ps[4]),
	})
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, policyJSON(p))
}

// SetConversation serves PUT /v1/conversations/{id}/retention with {"messages_days",
// "media_days"} (null or absent: the tenant's period; "forever": keep forever; 0 is refused with
// ErrZeroPeriod), and DELETE of the same path, which removes the override.
func (h *Handlers) SetConversation(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	conv := req.PathParam("id")
	if conv == "" || len(conv) > 128 {
		return nil, ErrConversationNotFound
	}
	if req.RequestContext.HTTP.Method == http.MethodDelete {
		if err := h.svc.DeleteOverride(ctx, caller.TenantID, conv); err != nil {
			return nil, err
		}
		return noContent(), nil
	}
	var body struct {
		MessagesDays json.RawMessage `json:"messages_days"`
		MediaDays    json.RawMessage `json:"media_days"`
	}
	if err := req.Decode(&body); err != nil {
		return nil, err
	}
	ps, err := parsePeriods([]string{"messages_days", "media_days"}, []json.RawMessage{body.MessagesDays, body.MediaDays})
	if err != nil {
		return nil, err
	}
	o, err := h.svc.PutOverride(ctx, Override{TenantID: caller.TenantID, ConversationID: conv,
		MessagesDays: ps[0], MediaDays: ps[1], UpdatedBy: by(caller)})
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, map[string]any{"conversation_id": o.ConversationID,
		"messages_days": overridePeriod(o.MessagesDays), "media_days": overridePeriod(o.MediaDays),
		"updated_at": o.UpdatedAt.Format(time.RFC3339Nano), "updated_by": o.UpdatedBy})
}

// holdJSON is a legal hold as the API shows it.
type holdJSON struct {
	ID             string `json:"id"`
	UserID         string `json:"user_id,omitempty"`
	ConversationID string `json:"conversation_id,omitempty"`
	Reason         string `json:"reason"`
	CreatedAt      string `json:"created_at"`
	CreatedBy      string `json:"created_by"`
}

func toHoldJSON(h Hold) holdJSON {
	return holdJSON{ID: h.ID, UserID: h.UserID, ConversationID: h.ConversationID, Reason: h.Reason,
		CreatedAt: h.CreatedAt.UTC().Format(time.RFC3339Nano), CreatedBy: h.CreatedBy}
}

// Holds serves the legal hold routes: POST /v1/retention/holds with {"user_id" or
// "conversation_id", "reason"} (201 with the hold), GET /v1/retention/holds?limit=&cursor=
// ({"items": [...], "next_cursor": "..."}, oldest first, limit DefaultHoldsLimit by default
// and at most MaxHoldsLimit) and DELETE /v1/retention/holds/{id} (204).
func (h *Handlers) Holds(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	switch req.RequestContext.HTTP.Method {
	case http.MethodGet:
		limit, err := req.QueryInt("limit", DefaultHoldsLimit, 1, MaxHoldsLimit)
		if err != nil {
			return nil, err
		}
		hs, next, err := h.svc.HoldsPage(ctx, caller.TenantID, req.Query("cursor"), limit)
		if err != nil {
			return nil, err
		}
		items := make([]holdJSON, len(hs))
		for i, x := range hs {
			items[i] = toHoldJSON(x)
		}
		return edge.JSON(http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	case http.MethodDelete:
		id := req.PathParam("id")
		if id == "" || len(id) > 128 {
			return nil, ErrHoldNotFound
		}
		if err := h.svc.ReleaseHold(ctx, caller.TenantID, id); err != nil {
			return nil, err
		}
		return noContent(), nil
	}
	var body struct {
		UserID         string `json:"user_id"`
		ConversationID string `json:"conversation_id"`
		Reason         string `json:"reason"`
	}
	if err := req.Decode(&body); err != nil {
		return nil, err
	}
	hold, err := h.svc.PlaceHold(ctx, Hold{TenantID: caller.TenantID, UserID: body.UserID,
		ConversationID: body.ConversationID, Reason: body.Reason, CreatedBy: by(caller)})
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusCreated, toHoldJSON(hold))
}

func noContent() *edge.Response {
	return &edge.Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}
}
