// Package retention keeps each tenant's data only as long as the tenant's policy says: a policy
// per tenant (messages, media, audit records, exports, ended sessions), overrides per
// conversation, legal holds on users and conversations that suspend deletion, and the
// scheduled run that deletes what is past its period in bounded batches inside the function's
// time budget, resuming where the previous run stopped.
package retention

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"caas.dev/shared/audit"
	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

// Limits of a policy, in days. Inside the service a period of 0 keeps the data forever; the
// HTTP API refuses 0 (ErrZeroPeriod) and spells that "forever" or null.
const (
	// AuditFloorDays is the shortest period audit records may be kept: a lower value is
	// refused with retention_below_floor.
	AuditFloorDays = 365
	// MaxDays is the longest period a policy states (100 years).
	MaxDays = 36500
	// MaxReasonLength bounds a legal hold's reason, in bytes.
	MaxReasonLength = 500
	// MaxHolds is the most legal holds a tenant has at once.
	MaxHolds = 1000
	// DefaultHoldsLimit is how many holds a page of GET /v1/retention/holds has without limit.
	DefaultHoldsLimit = 50
	// MaxHoldsLimit is the largest page of GET /v1/retention/holds.
	MaxHoldsLimit = 200
)

// Categories of data a policy covers, as run counts and job cursors name them.
const (
	CategoryMessages     = "messages"
	CategoryMedia        = "media"
	CategoryAuditRecords = "audit_records"
	CategoryExports      = "exports"
	CategorySessions     = "sessions"
)

// Errors of the retention API.
var (
	// ErrBelowFloor: an audit record period under AuditFloorDays.
	ErrBelowFloor = fault.New(fault.Invalid, "retention_below_floor",
		fmt.Sprintf("audit records are kept at least %d days", AuditFloorDays))
	// ErrInvalidPeriod: a period that is negative or over MaxDays.
	ErrInvalidPeriod = fault.New(fault.Invalid, "invalid_retention_period",
		fmt.Sprintf(`a period is a whole number of days from 1 to %d, or "forever"`, MaxDays))
	// ErrInvalidHoldTarget: a hold that names not exactly one of user_id and conversation_id.
	ErrInvalidHoldTarget = fault.New(fault.Invalid, "invalid_hold_target",
		"a legal hold names exactly one of user_id and conversation_id")
	// ErrInvalidHoldReason: a hold without a reason, or with one too long.
	ErrInvalidHoldReason = fault.New(fault.Invalid, "invalid_hold_reason",
		fmt.Sprintf("a legal hold needs a reason of 1 to %d bytes of UTF-8", MaxReasonLength))
	// ErrTooManyHolds: the tenant has MaxHolds holds already.
	ErrTooManyHolds = fault.New(fault.Conflict, "too_many_holds",
		fmt.Sprintf("a tenant has at most %d legal holds", MaxHolds))
	// ErrHoldNotFound: no hold of the tenant has the id.
	ErrHoldNotFound = fault.New(fault.NotFound, "hold_not_found", "the legal hold does not exist")
	// ErrZeroPeriod: a period of 0 in a request, which reads as "keep nothing" as well as "keep
	// forever"; the API spells forever "forever" (or null in a tenant's policy).
	ErrZeroPeriod = fault.New(fault.Invalid, "zero_retention_period",
		`a period of 0 days is ambiguous: give 1 or more days, or "forever"`)
	// ErrUserNotFound: the tenant has no user with the id.
	ErrUserNotFound = fault.New(fault.NotFound, "user_not_found", "the user does not exist")
	// ErrInvalidCursor: a holds cursor this service did not make.
	ErrInvalidCursor = fault.New(fault.Invalid, "invalid_cursor", "the cursor is not valid")
	// ErrConversationNotFound: the tenant has no conversation with the id.
	ErrConversationNotFound = fault.New(fault.NotFound, "conversation_not_found", "the conversation does not exist")
	// ErrNotFound is returned by a Store for a policy, override or hold that does not exist.
	ErrNotFound = errors.New("retention: not found")
)

// Periods are retention periods in days; 0 keeps the data forever.
type Periods struct {
	MessagesDays     int
	MediaDays        int
	AuditRecordsDays int
	ExportsDays      int
	SessionsDays     int
}

// Validate checks every period against its limits.
func (p Periods) Validate() error {
	for _, d := range []int{p.MessagesDays, p.MediaDays, p.AuditRecordsDays, p.ExportsDays, p.SessionsDays} {
		if d < 0 || d > MaxDays {
			return ErrInvalidPeriod
		}
	}
	if p.AuditRecordsDays > 0 && p.AuditRecordsDays < AuditFloorDays {
		return ErrBelowFloor
	}
	return nil
}

// Policy is a tenant's retention policy.
type Policy struct {
	TenantID string
	Periods
	UpdatedAt time.Time
	UpdatedBy string
}

// Override replaces the tenant's message and media periods for one conversation. A nil field
// keeps the tenant's period; 0 keeps that conversation's data forever.
type Override struct {
	TenantID       string
	ConversationID string
	MessagesDays   *int
	MediaDays      *int
	UpdatedAt      time.Time
	UpdatedBy      string
}

// Hold is a legal hold: nothing of the user (messages they sent, their sessions and exports),
// or nothing of the conversation (its messages and media), is deleted while it stands.
type Hold struct {
	ID             string
	TenantID       string
	UserID         string
	ConversationID string
	Reason         string
	CreatedAt      time.Time
	CreatedBy      string
}

// Store keeps policies, overrides and holds, and deletes expired data. Every method is scoped
// to one tenant, except Tenants.
type Store interface {
	// Policy returns the tenant's policy, or ErrNotFound.
	Policy(ctx context.Context, tenantID string) (Policy, error)
	// PutPolicy stores the tenant's policy, replacing the previous one.
	PutPolicy(ctx context.Context, p Policy) error
	// Tenants returns up to limit tenant ids with a policy, after the id afterTenant, ascending.
	Tenants(ctx context.Context, afterTenant string, limit int) ([]string, error)
	// Overrides returns every conversation override of the tenant.
	Overrides(ctx context.Context, tenantID string) ([]Override, error)
	// PutOverride stores a conversation's override, replacing the previous one.
	PutOverride(ctx context.Context, o Override) error
	// DeleteOverride deletes a conversation's override, or returns ErrNotFound.
	DeleteOverride(ctx context.Context, tenantID, conversationID string) error
	// ConversationExists reports whether the tenant has the conversation.
	ConversationExists(ctx context.Context, tenantID, conversationID string) (bool, error)

	// UserExists reports whether the tenant has the user.
	UserExists(ctx context.Context, tenantID, userID string) (bool, error)

	// InsertHold stores a new hold.
	InsertHold(ctx context.Context, h Hold) error
	// CountHolds returns how many holds the tenant has.
	CountHolds(ctx context.Context, tenantID string) (int, error)
	// Holds returns up to limit holds of the tenant with an id above afterID ("" from the
	// first), ascending by id (ids sort by creation time, so oldest first).
	Holds(ctx context.Context, tenantID, afterID string, limit int) ([]Hold, error)
	// DeleteHold deletes a hold, or returns ErrNotFound.
	DeleteHold(ctx context.Context, tenantID, id string) error

	// Cursor returns where the job stopped for the tenant and category ("" from the start).
	Cursor(ctx context.Context, tenantID, category string) (string, error)
	// SetCursor records where the job stopped.
	SetCursor(ctx context.Context, tenantID, category, cursor string) error

	// Conversations returns up to limit conversation ids of the tenant after afterID, ascending.
	Conversations(ctx context.Context, tenantID, afterID string, limit int) ([]string, error)
	// DeleteMessages deletes up to limit messages of the conversation created before cutoff
	// whose sender is not in spareSenders, and returns how many it deleted.
	DeleteMessages(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spareSenders []string, limit int) (int, error)
	// ExpiredExports returns up to limit exports of the tenant created before cutoff whose
	// user is not in spareUsers.
	ExpiredExports(ctx context.Context, tenantID string, cutoff time.Time, spareUsers []string, limit int) ([]Export, error)
	// DeleteExport deletes an export's record.
	DeleteExport(ctx context.Context, tenantID, id string) error
	// DeleteSessions deletes up to limit sessions of the tenant, with their refresh tokens,
	// that ended (were revoked) before endedBefore or were last used before idleBefore, whose
	// user is not in spareUsers, and returns how many it deleted.
	DeleteSessions(ctx context.Context, tenantID string, endedBefore, idleBefore time.Time, spareUsers []string, limit int) (int, error)
	// AuditTrimPoint returns the seq below which the tenant's audit records may be deleted
	// with the chain still verifiable: the highest checkpoint seq at or below the first record
	// (from the current floor) that is not older than cutoff; 0 when there is none.
	AuditTrimPoint(ctx context.Context, tenantID string, cutoff time.Time) (int64, error)
	// TrimAudit records belowSeq as the tenant's new audit floor (when higher than the
	// current one), then deletes up to limit records below it and returns how many.
	TrimAudit(ctx context.Context, tenantID string, belowSeq int64, limit int) (int, error)
}

// Export is a stored GDPR export as retention sees it.
type Export struct {
	ID        string
	UserID    string
	ObjectKey string
	CreatedAt time.Time
}

// MediaItem is a stored media as retention sees it.
type MediaItem struct {
	ID        string
	ObjectKey string
	// UploadKey is where the media's presigned upload writes (media.UploadKey); an upload made
	// after completion stays there, so it is deleted with the media.
	UploadKey string
}

// MediaStore finds and deletes expired media documents; *mongo.MediaStore is the production one.
type MediaStore interface {
	// ExpiredMedia returns up to limit media of the conversation created before cutoff whose
	// uploader is not in spareUploaders, oldest first.
	ExpiredMedia(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spareUploaders []string, limit int) ([]MediaItem, error)
	// DeleteMediaDocs deletes the tenant's media documents with the ids and returns how many.
	DeleteMediaDocs(ctx context.Context, tenantID string, ids []string) (int, error)
}

// Objects deletes export archives and media from object storage; *s3.Store is the production one.
type Objects interface {
	Delete(ctx context.Context, key string) error
}

// Auditor appends the run's record to the tenant's chain; *audit.Service is one.
type Auditor interface {
	Append(ctx context.Context, tenantID string, in []audit.Input) (audit.AppendResult, error)
}

// Config is what a Service needs; Store is required.
type Config struct {
	Store Store
	// Objects, when set, deletes the archives of expired exports and the objects of expired
	// media.
	Objects Objects
	// Media, when set, finds expired media; their objects are deleted through Objects.
	Media MediaStore
	// Audit, when set, receives one record per tenant and run.
	Audit Auditor
	// Erasures, when set, refuses a hold racing an erasure (ErrUserErasure); the production
	// wiring always sets it.
	Erasures Erasures
	Clock    clock.Clock
	IDs      interface{ New(prefix string) string }
	// Batch is how many items one query deletes (DefaultBatch when 0).
	Batch int
	// Margin is the time kept back from the context's deadline (DefaultMargin when 0).
	Margin time.Duration
	// SessionIdle is how long after its last use a session that was never ended counts as
	// expired (identity.DefaultRefreshTTL when 0 in the production wiring).
	SessionIdle time.Duration
}

// Defaults of Config.
const (
	DefaultBatch  = 500
	DefaultMargin = 5 * time.Second
)

// Service manages policies and holds and runs retention.
type Service struct {
	cfg Config
}

// New returns a Service over c.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("retention: a store is required")
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.IDs == nil {
		c.IDs = ids.Random{}
	}
	if c.Batch <= 0 {
		c.Batch = DefaultBatch
	}
	if c.Margin <= 0 {
		c.Margin = DefaultMargin
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * 24 * time.Hour
	}
	return &Service{cfg: c}, nil
}

// Describe returns the tenant's retention periods (all 0, keep forever, without a policy), as
// an export states them.
func (s *Service) Describe(ctx context.Context, tenantID string) (Periods, error) {
	p, err := s.Policy(ctx, tenantID)
	return p.Periods, err
}

// Policy returns the tenant's policy; a tenant without one gets an empty policy (keep
// everything forever).
func (s *Service) Policy(ctx context.Context, tenantID string) (Policy, error) {
	p, err := s.cfg.Store.Policy(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return Policy{TenantID: tenantID}, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("read retention policy: %w", err)
	}
	return p, nil
}

// PutPolicy validates and stores the tenant's policy.
func (s *Service) PutPolicy(ctx context.Context, tenantID, by string, p Periods) (Policy, error) {
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	pol := Policy{TenantID: tenantID, Periods: p, UpdatedAt: s.cfg.Clock.Now().UTC().Truncate(time.Millisecond), UpdatedBy: by}
	if err := s.cfg.Store.PutPolicy(ctx, pol); err != nil {
		return Policy{}, fmt.Errorf("store retention policy: %w", err)
	}
	return pol, nil
}

// PutOverride validates and stores a conversation's override.
func (s *Service) PutOverride(ctx context.Context, o Override) (Override, error) {
	for _, d := range []*int{o.MessagesDays, o.MediaDays} {
		if d != nil && (*d < 0 || *d > MaxDays) {
			return Override{}, ErrInvalidPeriod
		}
	}
	ok, err := s.cfg.Store.ConversationExists(ctx, o.TenantID, o.ConversationID)
	if err != nil {
		return Override{}, fmt.Errorf("find conversation: %w", err)
	}
	if !ok {
		return Override{}, ErrConversationNotFound
	}
	o.UpdatedAt = s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)
	if err := s.cfg.Store.PutOverride(ctx, o); err != nil {
		return Override{}, fmt.Errorf("store retention override: %w", err)
	}
	return o, nil
}

// DeleteOverride removes a conversation's override, or fails with ErrConversationNotFound.
func (s *Service) DeleteOverride(ctx context.Context, tenantID, conversationID string) error {
	err := s.cfg.Store.DeleteOverride(ctx, tenantID, conversationID)
	if errors.Is(err, ErrNotFound) {
		return fault.WithDetail(ErrConversationNotFound, "the conversation has no retention override")
	}
	if err != nil {
		return fmt.Errorf("delete retention override: %w", err)
	}
	return nil
}

// PlaceHold validates and stores a legal hold on exactly one user or conversation of the
// tenant: a user id that is not one (usr_…) is refused with ErrInvalidHoldTarget, a user or
// conversation the tenant does not have with ErrUserNotFound or ErrConversationNotFound.
//
// The MaxHolds cap holds without atomic updates: the hold is inserted, then the tenant's holds
// are counted, and when there are more than MaxHolds the hold is deleted again and
// ErrTooManyHolds returned. Whichever of two racing placements counts last sees both inserts,
// so the cap is never exceeded once the placements return; near the cap, racing placements may
// all be refused although one of them would have fit.
//
// A hold racing an erasure is settled the same way: once stored, the hold is withdrawn and
// ErrUserErasure returned when an erasure of its user, or of a user involved in its
// conversation, has begun (Config.Erasures).
func (s *Service) PlaceHold(ctx context.Context, h Hold) (Hold, error) {
	if (h.UserID == "") == (h.ConversationID == "") || len(h.UserID) > 128 || len(h.ConversationID) > 128 {
		return Hold{}, ErrInvalidHoldTarget
	}
	if h.UserID != "" && !ids.Valid(ids.User, h.UserID) {
		return Hold{}, fault.WithDetail(ErrInvalidHoldTarget, "user_id is not a user id (usr_…)")
	}
	h.Reason = strings.TrimSpace(h.Reason)
	if h.Reason == "" || len(h.Reason) > MaxReasonLength || !utf8.ValidString(h.Reason) {
		return Hold{}, ErrInvalidHoldReason
	}
	if h.ConversationID != "" {
		ok, err := s.cfg.Store.ConversationExists(ctx, h.TenantID, h.ConversationID)
		if err != nil {
			return Hold{}, fmt.Errorf("find conversation: %w", err)
		}
		if !ok {
			return Hold{}, ErrConversationNotFound
		}
	}
	if h.UserID != "" {
		ok, err := s.cfg.Store.UserExists(ctx, h.TenantID, h.UserID)
		if err != nil {
			return Hold{}, fmt.Errorf("find user: %w", err)
		}
		if !ok {
			return Hold{}, ErrUserNotFound
		}
	}
	n, err := s.cfg.Store.CountHolds(ctx, h.TenantID)
	if err != nil {
		return Hold{}, fmt.Errorf("count legal holds: %w", err)
	}
	if n >= MaxHolds {
		return Hold{}, ErrTooManyHolds
	}
	h.ID = s.cfg.IDs.New(ids.LegalHold)
	h.CreatedAt = s.cfg.Clock.Now().UTC().Truncate(time.Millisecond)
	if err := s.cfg.Store.InsertHold(ctx, h); err != nil {
		return Hold{}, fmt.Errorf("store legal hold: %w", err)
	}
	n, err = s.cfg.Store.CountHolds(ctx, h.TenantID)
	if err == nil && n <= MaxHolds {
		if err := s.guardErasure(ctx, h); err != nil {
			return Hold{}, err
		}
		return h, nil
	}
	if derr := s.cfg.Store.DeleteHold(context.WithoutCancel(ctx), h.TenantID, h.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
		return Hold{}, fmt.Errorf("withdraw legal hold over the cap: %w", derr)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("count legal holds: %w", err)
	}
	return Hold{}, ErrTooManyHolds
}

// Holds returns every legal hold of the tenant, oldest first, reading them page by page.
func (s *Service) Holds(ctx context.Context, tenantID string) ([]Hold, error) {
	var all []Hold
	after := ""
	for {
		hs, err := s.cfg.Store.Holds(ctx, tenantID, after, MaxHoldsLimit)
		if err != nil {
			return nil, fmt.Errorf("read legal holds: %w", err)
		}
		all = append(all, hs...)
		if len(hs) < MaxHoldsLimit {
			return all, nil
		}
		after = hs[len(hs)-1].ID
	}
}

// HoldsPage returns up to limit legal holds of the tenant after the cursor ("" from the
// first), oldest first, and the cursor of the next page ("" after the last).
func (s *Service) HoldsPage(ctx context.Context, tenantID, cursor string, limit int) ([]Hold, string, error) {
	after, err := decodeHoldCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	hs, err := s.cfg.Store.Holds(ctx, tenantID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("read legal holds: %w", err)
	}
	if len(hs) <= limit {
		return hs, "", nil
	}
	hs = hs[:limit]
	return hs, encodeHoldCursor(hs[limit-1].ID), nil
}

// holdCursor continues a list of holds after the hold with id After. Like every cursor of the
// API it is opaque to clients (base64url of a small JSON document) and unsigned: it grants
// nothing, the query it feeds is still scoped to the caller's tenant.
type holdCursor struct {
	After string `json:"a"`
}

func encodeHoldCursor(after string) string {
	b, _ := json.Marshal(holdCursor{After: after}) // a struct of one string always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeHoldCursor(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return "", ErrInvalidCursor
	}
	var c holdCursor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || !ids.Valid(ids.LegalHold, c.After) {
		return "", ErrInvalidCursor
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", ErrInvalidCursor
	}
	return c.After, nil
}

// ReleaseHold deletes a legal hold, or fails with ErrHoldNotFound.
func (s *Service) ReleaseHold(ctx context.Context, tenantID, id string) error {
	err := s.cfg.Store.DeleteHold(ctx, tenantID, id)
	if errors.Is(err, ErrNotFound) {
		return ErrHoldNotFound
	}
	if err != nil {
		return fmt.Errorf("delete legal hold: %w", err)
	}
	return nil
}
