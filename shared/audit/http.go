package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/identity"
)

// MaxAppendBody is the largest body POST /v1/audit/events takes, and MaxAppendEvents the most
// events in it.
const (
	MaxAppendBody   = 512 << 10
	MaxAppendEvents = 100
)

// SourceDetail is the details key that marks a record appended through POST /v1/audit/events,
// with the value SourceAPI; the platform's own records never carry it.
const (
	SourceDetail = "source"
	SourceAPI    = "api"
)

// pseudonymLength is the length of a pseudonym: the prefix and 64 hex digits.
const pseudonymLength = len(PseudonymPrefix) + 64

// MaxAppendClockSkew is how far ahead of the server's clock an appended event's time may be.
const MaxAppendClockSkew = 5 * time.Minute

// HTTP errors.
var (
	// ErrAPIKeyRequired: only the tenant's API key appends events.
	ErrAPIKeyRequired = fault.New(fault.Forbidden, "api_key_required", "only the tenant's API key may append audit events")
	// ErrTooManyEvents: more than MaxAppendEvents events in one request.
	ErrTooManyEvents = fault.New(fault.Invalid, "too_many_events", "at most 100 events per request")
	// ErrAppendBodyTooLarge: a body over MaxAppendBody.
	ErrAppendBodyTooLarge = fault.New(fault.TooLarge, "body_too_large", "the request body is over 524288 bytes")
	// ErrTimeInFuture: an appended event's time more than MaxAppendClockSkew ahead.
	ErrTimeInFuture = fault.New(fault.Invalid, "time_in_future", "an event's time is at most 5 minutes ahead of the server's clock")
	// ErrReservedActor: an appended event with an actor type the platform keeps for itself.
	ErrReservedActor = fault.New(fault.Invalid, "reserved_actor", "an appended event's actor type is user or api_key; system and anonymous are the platform's own")
	// ErrPseudonymActor: a user actor given as a pseudonym rather than the user's id.
	ErrPseudonymActor = fault.New(fault.Invalid, "pseudonym_actor", "a user actor's id is the user's id; the platform makes the pseudonym")
	// ErrReservedDetail: an appended event with a details key the platform sets.
	ErrReservedDetail = fault.New(fault.Invalid, "reserved_detail", "details.source is set by the platform")
	// ErrInvalidTime: a time that is not RFC 3339.
	ErrInvalidTime = fault.New(fault.Invalid, "invalid_time", "times are RFC 3339, such as 2026-05-01T10:00:00.000Z")
)

// Handlers serves the audit routes over a Service.
type Handlers struct {
	svc *Service
	now func() time.Time
}

// NewHandlers returns the HTTP handlers of svc.
func NewHandlers(svc *Service) *Handlers {
	return &Handlers{svc: svc, now: svc.cfg.Clock.Now}
}

type actorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// eventJSON is an event a tenant's system hands over.
type eventJSON struct {
	ID        string            `json:"id"`
	Time      string            `json:"time"`
	Actor     *actorJSON        `json:"actor"`
	Action    string            `json:"action"`
	Resource  string            `json:"resource"`
	Outcome   string            `json:"outcome"`
	Status    int               `json:"status"`
	IP        string            `json:"ip"`
	UserAgent string            `json:"user_agent"`
	LatencyMS int64             `json:"latency_ms"`
	RequestID string            `json:"request_id"`
	Details   map[string]string `json:"details"`
}

// recordJSON is a stored record as the API shows it.
type recordJSON struct {
	TenantID     string            `json:"tenant_id"`
	Seq          int64             `json:"seq"`
	ID           string            `json:"id"`
	Time         string            `json:"time"`
	Actor        actorJSON         `json:"actor"`
	Action       string            `json:"action"`
	Resource     string            `json:"resource"`
	Outcome      string            `json:"outcome"`
	Status       int               `json:"status"`
	IP           string            `json:"ip"`
	UserAgent    string            `json:"user_agent"`
	LatencyMS    int64             `json:"latency_ms"`
	RequestID    string            `json:"request_id"`
	Details      map[string]string `json:"details"`
	PreviousHash string            `json:"previous_hash"`
	Hash         string            `json:"hash"`
}

func toRecordJSON(r Record) recordJSON {
	d := r.Details
	if d == nil {
		d = map[string]string{}
	}
	return recordJSON{TenantID: r.TenantID, Seq: r.Seq, ID: r.ID, Time: r.Time.UTC().Format(TimeFormat),
		Actor: actorJSON{Type: r.Actor.Type, ID: r.Actor.ID}, Action: r.Action, Resource: r.Resource,
		Outcome: r.Outcome, Status: r.Status, IP: r.IP, UserAgent: r.UserAgent, LatencyMS: r.LatencyMS,
		RequestID: r.RequestID, Details: d, PreviousHash: r.PreviousHash, Hash: r.Hash}
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fault.WithDetail(ErrInvalidTime, field+": "+ErrInvalidTime.Detail)
	}
	return t.UTC(), nil
}

// Append serves POST /v1/audit/events with {"events": [...]} (1 to 100): the tenant's own
// systems add records to its chain. An event without an actor is the API key's; a user actor's
// id is the user's id, which is stored as their pseudonym, as is every user id among the
// resource's path segments. The platform's own actor types (system, anonymous), an already-made
// pseudonym as a user id, a "source" detail and a time more than MaxAppendClockSkew ahead are
// refused; every record gets details.source "api", which the platform's own records never
// carry. 200 with {"appended","skipped","head_seq","head_hash"}; an event whose id is in the
// chain already is skipped.
func (h *Handlers) Append(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := edge.RequireCaller(ctx)
	if err != nil {
		return nil, err
	}
	if caller.Actor != edge.ActorAPIKey {
		return nil, ErrAPIKeyRequired
	}
	var body struct {
		Events []eventJSON `json:"events"`
	}
	if err := req.DecodeLimit(&body, MaxAppendBody, ErrAppendBodyTooLarge); err != nil {
		return nil, err
	}
	if len(body.Events) == 0 {
		return nil, edge.Missing("events")
	}
	if len(body.Events) > MaxAppendEvents {
		return nil, ErrTooManyEvents
	}

	pseudonyms := map[string]string{}
	pseudonym := func(userID string) (string, error) {
		if p, ok := pseudonyms[userID]; ok {
			return p, nil
		}
		p, err := h.svc.Pseudonym(ctx, caller.TenantID, userID)
		if err != nil {
			return "", err
		}
		pseudonyms[userID] = p
		return p, nil
	}
	in := make([]Input, len(body.Events))
	for i, e := range body.Events {
		if in[i], err = h.input(e, pseudonym); err != nil {
			return nil, err
		}
	}
	res, err := h.svc.Append(ctx, caller.TenantID, in)
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, map[string]any{"appended": res.Appended, "skipped": res.Skipped,
		"head_seq": res.HeadSeq, "head_hash": res.HeadHash})
}

func (h *Handlers) input(e eventJSON, pseudonym func(string) (string, error)) (Input, error) {
	if _, ok := e.Details[SourceDetail]; ok {
		return Input{}, ErrReservedDetail
	}
	if len(e.Details) >= MaxDetails {
		return Input{}, fault.WithDetail(ErrInvalidRecord, "details holds at most 15 entries (the 16th is source)")
	}
	now := h.now()
	ev := Event{ID: e.ID, Time: now, Actor: EventActor{Type: ActorAPIKey, ID: APIKeyActorID}, Action: e.Action,
		Resource: e.Resource, Outcome: e.Outcome, Status: e.Status, IP: e.IP, UserAgent: e.UserAgent,
		LatencyMS: e.LatencyMS, RequestID: e.RequestID}
	if e.Time != "" {
		t, err := parseTime("time", e.Time)
		if err != nil {
			return Input{}, err
		}
		if t.After(now.Add(MaxAppendClockSkew)) {
			return Input{}, ErrTimeInFuture
		}
		ev.Time = t
	}
	if e.Actor != nil {
		switch e.Actor.Type {
		case ActorUser:
			if e.Actor.ID == "" || len(e.Actor.ID) > MaxIDLength {
				return Input{}, fault.WithDetail(ErrInvalidRecord, "a user actor needs the user's id")
			}
			if strings.HasPrefix(e.Actor.ID, PseudonymPrefix) {
				return Input{}, ErrPseudonymActor
			}
			ev.Actor = EventActor{Type: ActorUser, ID: e.Actor.ID}
		case ActorAPIKey:
			if e.Actor.ID != "" && e.Actor.ID != APIKeyActorID {
				return Input{}, fault.WithDetail(ErrInvalidRecord, "an api_key actor's id is api_key")
			}
		default:
			return Input{}, ErrReservedActor
		}
	}
	// Pseudonymise the user actor and every user id among the resource's path segments, as for
	// the function edge's records; unlike the edge, a resource that no longer fits is refused
	// rather than cut, so that what is stored is what was sent.
	in, err := ev.pseudonymised(pseudonym)
	if err != nil {
		return Input{}, err
	}
	if len(in.Resource) > MaxResourceLength && len(ev.Resource) <= MaxResourceLength {
		return Input{}, fault.WithDetail(ErrInvalidRecord, fmt.Sprintf(
			"resource: too long once user ids are replaced by pseudonyms (%d bytes each): at most %d bytes",
			pseudonymLength, MaxResourceLength))
	}
	in.Details = make(map[string]string, len(e.Details)+1)
	for k, v := range e.Details {
		in.Details[k] = v
	}
	in.Details[SourceDetail] = SourceAPI
	return in, in.validate()
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

// Query serves GET /v1/audit/events?from=&to=&actor=&action=&resource=&cursor=&limit=
// (tenant admin): the tenant's records newest first, {"items": [...], "next_cursor": "..."}.
func (h *Handlers) Query(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := req.QueryInt("limit", DefaultQueryLimit, 1, MaxQueryLimit)
	if err != nil {
		return nil, err
	}
	f := Filter{ActorID: req.Query("actor"), Action: req.Query("action"), Resource: req.Query("resource")}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := req.Query(p.name); s != "" {
			if *p.t, err = parseTime(p.name, s); err != nil {
				return nil, err
			}
		}
	}

	recs, next, err := h.svc.Query(ctx, caller.TenantID, f, req.Query("cursor"), limit)
	if err != nil {
		return nil, err
	}
	items := make([]recordJSON, len(recs))
	for i, r := range recs {
		items[i] = toRecordJSON(r)
	}
	return edge.JSON(http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}

// Verify serves POST /v1/audit/verify with {"from_seq"?, "to_seq"?} (tenant admin; from 1 to
// the head by default): {"valid": true, "head_seq", "head_hash", ...} or {"valid": false,
// "broken_seq", "reason", ...}, with the tenant's checkpoint public key and
// "latest_checkpoint": the signed checkpoint with the highest seq <= to_seq (or null).
func (h *Handlers) Verify(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	caller, err := requireAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var body struct {
		FromSeq int64 `json:"from_seq"`
		ToSeq   int64 `json:"to_seq"`
	}
	if raw, _ := req.RawBody(); len(raw) > 0 {
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
	}
	if body.FromSeq == 0 {
		body.FromSeq = 1
	}
	if body.FromSeq < 0 || body.ToSeq < 0 {
		return nil, ErrInvalidRange
	}

	v, err := h.svc.Verify(ctx, caller.TenantID, body.FromSeq, body.ToSeq)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"valid": v.Valid, "from_checkpoint_seq": v.FromSeq, "checked": v.Checked,
		"checkpoints": v.Checkpoints, "key_id": v.KeyID, "public_key": hex.EncodeToString(v.PublicKey)}
	if v.Valid {
		out["head_seq"], out["head_hash"] = v.HeadSeq, v.HeadHash
	} else {
		out["broken_seq"], out["reason"] = v.BrokenSeq, v.Reason
	}
	upTo := body.ToSeq
	if upTo == 0 {
		upTo = math.MaxInt64
	}
	out["latest_checkpoint"] = nil
	switch c, err := h.svc.LatestCheckpoint(ctx, caller.TenantID, upTo); {
	case err == nil:
		out["latest_checkpoint"] = toCheckpointJSON(c)
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	return edge.JSON(http.StatusOK, out)
}
