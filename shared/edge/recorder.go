package edge

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"caas.dev/shared/ids"
)

// AccessRecord is what the edge records of one HTTP request for the tenant's audit trail. It
// holds no body, no query string and no header but the user agent. ActorID is the user's id
// for a user (the consumer replaces it with the user's pseudonym), "api_key" for the tenant's
// API key and "anonymous" for an unauthenticated caller.
type AccessRecord struct {
	// ID is fresh (ids.AuditRecord): the chain skips an id it holds, so a record handed over
	// twice is stored once.
	ID        string
	TenantID  string
	ActorType string
	ActorID   string
	Action    string // the route key
	Resource  string // the raw path, without the query string
	Status    int
	IP        string
	UserAgent string
	LatencyMS int64
	RequestID string
	Time      time.Time
}

// Kinds of AccessRecord actor besides ActorUser and ActorAPIKey.
const (
	// ActorAnonymous is the caller of a route without an authorizer.
	ActorAnonymous = "anonymous"
)

// Limits of AccessRecord fields, those of the audit record format.
const (
	maxActionLength    = 200
	maxResourceLength  = 512
	maxIPLength        = 64
	maxUserAgentLength = 512
	maxRequestIDLength = 128
)

// Recorder hands an AccessRecord over to the audit trail before the response goes out. It
// returns an error only when the record is lost; the edge logs it and answers anyway.
type Recorder interface {
	Record(ctx context.Context, r AccessRecord) error
}

// unrecordedRoutes are the probes of load balancers and monitors.
var unrecordedRoutes = map[string]bool{"GET /health": true, "GET /ready": true}

// accessRecord returns the record of a request answered with status after it started at start,
// or ok=false for a request that is not recorded: a health probe, or one without a tenant.
func accessRecord(req *Request, status int, start time.Time) (AccessRecord, bool) {
	if unrecordedRoutes[req.RouteKey] {
		return AccessRecord{}, false
	}
	r := AccessRecord{ActorType: ActorAnonymous, ActorID: ActorAnonymous}
	if c, ok := req.Caller(); ok {
		r.TenantID = c.TenantID
		r.ActorType = c.Actor
		r.ActorID = c.UserID
		if c.Actor == ActorAPIKey {
			r.ActorID = ActorAPIKey
		}
	} else if t := req.Header("X-Tenant-ID"); ids.Valid(ids.Tenant, t) {
		r.TenantID = t
	} else if t, ok := apiKeyTenant(req.Header("X-Api-Key")); ok {
		r.TenantID = t
	}
	if r.TenantID == "" {
		return AccessRecord{}, false
	}
	action := req.RouteKey
	if action == "" {
		action = req.RequestContext.HTTP.Method + " " + req.RawPath
	}
	path := req.RawPath
	if path == "" {
		path = req.RequestContext.HTTP.Path
	}
	r.ID = ids.Random{}.New(ids.AuditRecord)
	r.Action = cutText(action, maxActionLength)
	r.Resource = cutPath(path, maxResourceLength)
	r.Status = status
	r.IP = cutText(req.SourceIP(), maxIPLength)
	r.UserAgent = cutText(req.UserAgent(), maxUserAgentLength)
	r.RequestID = cutText(req.RequestID(), maxRequestIDLength)
	r.Time = start.UTC()
	r.LatencyMS = time.Since(start).Milliseconds()
	return r, true
}

// apiKeyPrefix starts every tenant API key: "caas_sk_<tenant id>_<secret>" (see package tenant).
const apiKeyPrefix = "caas_sk_"

// apiKeyTenant returns the tenant id an API key names, unverified: routes such as registration
// check the key themselves, and a record of a tenant that does not exist is dropped downstream.
// Only the id is read; the secret part is never kept.
func apiKeyTenant(key string) (string, bool) {
	rest, found := strings.CutPrefix(key, apiKeyPrefix)
	idLen := len(ids.Tenant) + 27
	if !found || len(rest) <= idLen || rest[idLen] != '_' || !ids.Valid(ids.Tenant, rest[:idLen]) {
		return "", false
	}
	return rest[:idLen], true
}

// Succeeded reports whether the record's status is a success (below 400).
func (r AccessRecord) Succeeded() bool { return r.Status < http.StatusBadRequest }

// cutText returns s as valid UTF-8 without NUL, cut to at most max bytes on a rune boundary.
func cutText(s string, max int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// cutPath is cutText cutting at a "/" so that no id is left in part.
func cutPath(s string, max int) string {
	s = cutText(s, len(s)+utf8.UTFMax)
	if len(s) <= max {
		return s
	}
	s = s[:max]
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return ""
}

// record hands the request's record to rec, if it is recorded, and logs a lost one by record
// id and route only.
func record(ctx context.Context, l *slog.Logger, rec Recorder, req *Request, status int, start time.Time) {
	if rec == nil {
		return
	}
	r, ok := accessRecord(req, status, start)
	if !ok {
		return
	}
	if err := rec.Record(ctx, r); err != nil {
		l.ErrorContext(ctx, "audit record lost", "record_id", r.ID, "error", err.Error())
	}
}
