// Package gdpr answers data subjects' requests through the API: consent records (append-only
// history of what a user agreed to, and withdrew) and rectification of profile fields
// (Art. 16). Who may ask is the same everywhere: a user for themselves, a tenant administrator
// (the tenant's API key or an admin user) for any user of the tenant.
package gdpr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// Limits of consent fields and lists.
const (
	MaxPurposeLen       = 64
	MaxPolicyVersionLen = 64
	DefaultConsentLimit = 50
	MaxConsentLimit     = 200
)

// Sources of a consent: where the user gave or withdrew it.
const (
	SourceWeb    = "web"
	SourceMobile = "mobile"
	SourceAPI    = "api"
	SourceOther  = "other"
)

// Failures of consent requests. Their codes are part of the API contract.
var (
	// ErrInvalidPurpose: the purpose is not 1 to 64 characters of snake_case.
	ErrInvalidPurpose = fault.New(fault.Invalid, "invalid_purpose",
		"purpose: must be 1 to 64 characters of lower-case letters, digits and underscores, starting with a letter")
	// ErrInvalidPolicyVersion: the policy version is not 1 to 64 characters of letters,
	// digits, '.', '-', '_' or '+'.
	ErrInvalidPolicyVersion = fault.New(fault.Invalid, "invalid_policy_version",
		"policy_version: must be 1 to 64 characters of letters, digits, '.', '-', '_' or '+'")
	// ErrInvalidSource: the source is not web, mobile, api or other.
	ErrInvalidSource = fault.New(fault.Invalid, "invalid_source", `source: must be "web", "mobile", "api" or "other"`)
	// ErrInvalidCursor: the cursor was not issued by this list.
	ErrInvalidCursor = fault.New(fault.Invalid, "invalid_cursor", "the cursor is not valid")
)

// Consent is one record of a user granting or withdrawing consent to a purpose under a version
// of the policy. Records are never changed: a withdrawal is a new record with Granted false.
type Consent struct {
	ID            string
	TenantID      string
	UserID        string
	Purpose       string
	PolicyVersion string
	Granted       bool
	Source        string
	RecordedAt    time.Time
	// RecordedBy is the actor who recorded it: the user's id, or "api_key".
	RecordedBy string
}

// ConsentPosition is where a page of consents, newest first, stopped: the last record's time
// and id. The zero value starts at the newest record.
type ConsentPosition struct {
	RecordedAt time.Time
	ID         string
}

// ConsentStore keeps consent records. It only appends: there is no way to change a record.
// Every method is scoped to one tenant.
type ConsentStore interface {
	// AppendConsent stores c unless a record with c.ID exists; then it returns that record and
	// created=false. The unique id settles concurrent appends of the same record.
	AppendConsent(ctx context.Context, c Consent) (stored Consent, created bool, err error)
	// ListConsents returns up to limit of the user's records older than after (all when after
	// is zero), newest first (recorded_at, then id, descending); purpose filters when not empty.
	ListConsents(ctx context.Context, tenantID, userID, purpose string, after ConsentPosition, limit int) ([]Consent, error)
	// CurrentConsents returns the user's latest record of each purpose (latest by recorded_at,
	// then id), keyed by purpose; purpose filters when not empty.
	CurrentConsents(ctx context.Context, tenantID, userID, purpose string) (map[string]Consent, error)
	// DeleteForUser deletes every record of the user and returns how many it deleted. It
	// exists for erasure alone; no endpoint deletes consents.
	DeleteForUser(ctx context.Context, tenantID, userID string) (int64, error)
}

// UserReader finds a tenant's users. The Mongo user store implements it.
type UserReader interface {
	// UserByID returns the tenant's user, or identity.ErrUserNotFound.
	UserByID(ctx context.Context, tenantID, userID string) (identity.User, error)
}

// Service records and reads consents and rectifies profiles.
type Service struct {
	Consents ConsentStore
	Users    UserReader
	// Profiles changes users' profile fields; only Rectify needs it.
	Profiles ProfileStore
	// Changes receives every rectification with its old and new values.
	Changes ChangeRecorder
	// Keys settles Idempotency-Key headers of consent requests.
	Keys  idempotency.Store
	Clock clock.Clock
	IDs   ids.Generator
	// Erased finds erasure receipts: an admin may still read the kept consents of an erased
	// user. Nil means no user counts as erased.
	Erased ErasedUsers
}

// ErasedUsers finds erasure receipts; *mongo.ErasureStore is the production one.
type ErasedUsers interface {
	// ErasureOfUser returns the tenant's receipt for the user, or ErrErasureNotFound.
	ErasureOfUser(ctx context.Context, tenantID, userID string) (Erasure, error)
}

// NewConsent is a consent to record, as a client sends it.
type NewConsent struct {
	// UserID is the user the consent is about; empty means the calling user.
	UserID        string `json:"user_id,omitempty"`
	Purpose       string `json:"purpose"`
	PolicyVersion string `json:"policy_version"`
	Granted       *bool  `json:"granted"`
	// Source is where the consent was given; empty means "api" for the API key, "other" for a user.
	Source string `json:"source,omitempty"`
}

// recordConsentOp names consent recording in the scope of its idempotency keys.
const recordConsentOp = "gdpr_consent"

// RecordConsent validates in, checks that caller may act for the user, and appends the record,
// timed by the server. With a key in r, a repeat of the same request returns the first record
// (created=false) instead of appending another, also when the first attempt stopped halfway; a
// different request with the key fails with idempotency.ErrConflict.
func (s *Service) RecordConsent(ctx context.Context, caller edge.Identity, in NewConsent, r idempotency.Request) (Consent, bool, error) {
	if err := validateConsent(&in, caller); err != nil {
		return Consent{}, false, err
	}
	userID, err := s.authorize(ctx, caller, in.UserID)
	if err != nil {
		return Consent{}, false, err
	}

	c := Consent{
		ID: s.IDs.New(ids.Consent), TenantID: caller.TenantID, UserID: userID, Purpose: in.Purpose,
		PolicyVersion: in.PolicyVersion, Granted: *in.Granted, Source: in.Source,
		RecordedAt: s.Clock.Now(), RecordedBy: actorOf(caller),
	}
	if r.Key != "" {
		scope := recordConsentOp + "|" + caller.TenantID + "|" + actorOf(caller)
		held, _, err := idempotency.Settle(ctx, s.Keys, scope, r, c.ID, c.RecordedAt)
		if err != nil {
			return Consent{}, false, fmt.Errorf("record consent: %w", err)
		}
		c.ID, c.RecordedAt = held.ResourceID, held.CreatedAt
	}
	stored, created, err := s.Consents.AppendConsent(ctx, c)
	if err != nil {
		return Consent{}, false, fmt.Errorf("record consent: %w", err)
	}
	return stored, created, nil
}

// ConsentHistory is a page of a user's consent records, newest first, and the user's current
// state per purpose.
type ConsentHistory struct {
	Items      []Consent
	Current    map[string]Consent
	NextCursor string
}

// ListConsents returns the user's consent history (userID empty means the calling user),
// newest first, a page of limit records after cursor, with the latest record of each purpose.
func (s *Service) ListConsents(ctx context.Context, caller edge.Identity, userID, purpose, cursor string, limit int) (ConsentHistory, error) {
	if purpose != "" && !validPurpose(purpose) {
		return ConsentHistory{}, ErrInvalidPurpose
	}
	after, err := decodeConsentCursor(cursor)
	if err != nil {
		return ConsentHistory{}, err
	}
	if userID == "" && caller.Actor == edge.ActorAPIKey {
		return ConsentHistory{}, edge.Missing("user_id")
	}
	target := userID
	userID, err = s.authorize(ctx, caller, userID)
	if errors.Is(err, identity.ErrUserNotFound) && target != "" {
		// Erasure keeps consents as proof of lawful processing: an admin still reads them.
		erased, eerr := s.erased(ctx, caller, target)
		if eerr != nil {
			return ConsentHistory{}, eerr
		}
		if erased {
			userID, err = target, nil
		}
	}
	if err != nil {
		return ConsentHistory{}, err
	}

	items, err := s.Consents.ListConsents(ctx, caller.TenantID, userID, purpose, after, limit+1)
	if err != nil {
		return ConsentHistory{}, fmt.Errorf("list consents: %w", err)
	}
	current, err := s.Consents.CurrentConsents(ctx, caller.TenantID, userID, purpose)
	if err != nil {
		return ConsentHistory{}, fmt.Errorf("list consents: %w", err)
	}
	h := ConsentHistory{Items: items, Current: current}
	if len(items) > limit {
		h.Items = items[:limit]
		last := h.Items[limit-1]
		h.NextCursor = encodeConsentCursor(ConsentPosition{RecordedAt: last.RecordedAt, ID: last.ID})
	}
	return h, nil
}

// authorize returns the user the caller acts for: target, or the calling user when target is
// empty. A user may act for themselves; a tenant admin for any user of the tenant. It fails
// with identity.ErrAdminRequired for anyone else and identity.ErrUserNotFound for a user not
// in the caller's tenant.
func (s *Service) authorize(ctx context.Context, caller edge.Identity, target string) (string, error) {
	if target == "" {
		if caller.Actor != edge.ActorUser || caller.UserID == "" {
			return "", edge.Missing("user_id")
		}
		target = caller.UserID
	}
	if !(caller.Actor == edge.ActorUser && target == caller.UserID) {
		if err := s.requireAdmin(ctx, caller); err != nil {
			return "", err
		}
	}
	if !ids.Valid(ids.User, target) {
		return "", identity.ErrUserNotFound
	}
	if _, err := s.Users.UserByID(ctx, caller.TenantID, target); err != nil {
		return "", fmt.Errorf("find user: %w", err)
	}
	return target, nil
}

// erased reports whether the caller administers its tenant and the tenant has an erasure
// receipt for the user.
func (s *Service) erased(ctx context.Context, caller edge.Identity, userID string) (bool, error) {
	if s.Erased == nil || !ids.Valid(ids.User, userID) || s.requireAdmin(ctx, caller) != nil {
		return false, nil
	}
	_, err := s.Erased.ErasureOfUser(ctx, caller.TenantID, userID)
	if errors.Is(err, ErrErasureNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find erasure: %w", err)
	}
	return true, nil
}

// requireAdmin checks that caller administers its tenant: the API key, or a user whose role is
// admin both as the authorizer handed it on and as the store has it now.
func (s *Service) requireAdmin(ctx context.Context, caller edge.Identity) error {
	switch caller.Actor {
	case edge.ActorAPIKey:
		if caller.TenantID != "" && caller.UserID == "" && caller.Role == identity.RoleAdmin {
			return nil
		}
	case edge.ActorUser:
		if caller.TenantID == "" || caller.UserID == "" || caller.Role != identity.RoleAdmin {
			return identity.ErrAdminRequired
		}
		u, err := s.Users.UserByID(ctx, caller.TenantID, caller.UserID)
		if errors.Is(err, identity.ErrUserNotFound) {
			return identity.ErrAdminRequired
		}
		if err != nil {
			return fmt.Errorf("check admin: %w", err)
		}
		if identity.RoleOf(u) == identity.RoleAdmin {
			return nil
		}
	}
	return identity.ErrAdminRequired
}

// actorOf names the caller in a record: the user's id, or "api_key".
func actorOf(c edge.Identity) string {
	if c.Actor == edge.ActorAPIKey {
		return edge.ActorAPIKey
	}
	return c.UserID
}

// validateConsent checks in and fills in its default source.
func validateConsent(in *NewConsent, caller edge.Identity) error {
	switch {
	case in.Purpose == "":
		return edge.Missing("purpose")
	case !validPurpose(in.Purpose):
		return ErrInvalidPurpose
	case in.PolicyVersion == "":
		return edge.Missing("policy_version")
	case !validPolicyVersion(in.PolicyVersion):
		return ErrInvalidPolicyVersion
	case in.Granted == nil:
		return edge.Missing("granted")
	case in.UserID == "" && caller.Actor == edge.ActorAPIKey:
		return edge.Missing("user_id")
	}
	switch in.Source {
	case "":
		in.Source = SourceOther
		if caller.Actor == edge.ActorAPIKey {
			in.Source = SourceAPI
		}
	case SourceWeb, SourceMobile, SourceAPI, SourceOther:
	default:
		return ErrInvalidSource
	}
	return nil
}

// validPurpose reports whether p is 1 to 64 characters of snake_case starting with a letter.
func validPurpose(p string) bool {
	if p == "" || len(p) > MaxPurposeLen || p[0] < 'a' || p[0] > 'z' {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validPolicyVersion reports whether v is 1 to 64 characters of letters, digits and ".-_+".
func validPolicyVersion(v string) bool {
	if v == "" || len(v) > MaxPolicyVersionLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '+') {
			return false
		}
	}
	return true
}

// consentCursor is the opaque cursor of a consent list: base64url of this JSON. It grants
// nothing: the list it continues is still scoped to the caller's tenant and user.
type consentCursor struct {
	At int64  `json:"t"` // recorded_at, Unix milliseconds
	ID string `json:"i"`
}

func encodeConsentCursor(p ConsentPosition) string {
	b, _ := json.Marshal(consentCursor{At: p.RecordedAt.UnixMilli(), ID: p.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeConsentCursor(s string) (ConsentPosition, error) {
	if s == "" {
		return ConsentPosition{}, nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return ConsentPosition{}, ErrInvalidCursor
	}
	var c consentCursor
	if err := edge.DecodeJSON(raw, &c); err != nil || !ids.Valid(ids.Consent, c.ID) || c.At <= 0 {
		return ConsentPosition{}, ErrInvalidCursor
	}
	return ConsentPosition{RecordedAt: time.UnixMilli(c.At).UTC(), ID: c.ID}, nil
}
