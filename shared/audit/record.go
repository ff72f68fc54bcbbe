// Package audit keeps each tenant's tamper-evident audit trail: records appended to a hash
// chain (seq from 1 without gaps, hash = SHA-256(previous hash ‖ RFC 8785 canonical record)),
// checkpoints over the chain's head signed with the tenant's Ed25519 key, verification of a
// range that names the first broken record, queries, and the keyed pseudonyms that stand for
// users in records. The chain is settled by inserting into a unique (tenant, seq) index, so
// concurrent appenders never fork it (DESIGN §4, §5 "Audit").
package audit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"caas.dev/shared/fault"
)

// Actor types.
const (
	ActorUser   = "user"
	ActorAPIKey = "api_key"
	ActorSystem = "system"
	// ActorAnonymous is the caller of an unauthenticated route (login, registration): the
	// edge records it with the ID "anonymous".
	ActorAnonymous = "anonymous"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// TimeFormat is how times are written in records and checkpoints: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// Limits on a record's fields; the producer (the function edge) cuts what it records to them.
const (
	MaxIDLength        = 128
	MaxActionLength    = 200
	MaxResourceLength  = 512
	MaxIPLength        = 64
	MaxUserAgentLength = 512
	MaxRequestIDLength = 128
	MaxDetails         = 16
	MaxDetailValue     = 1024
	// MaxBatch is the most records one Append takes.
	MaxBatch = 1000
)

// Errors.
var (
	// ErrInvalidRecord is an input that breaks a rule of the record format.
	ErrInvalidRecord = fault.New(fault.Invalid, "invalid_audit_record", "the audit record is malformed")
	// ErrInvalidRange is a verify range with from after to, or below 1.
	ErrInvalidRange = fault.New(fault.Invalid, "invalid_range", "the sequence range is invalid")
	// ErrInvalidCursor is a query cursor this service did not make.
	ErrInvalidCursor = fault.New(fault.Invalid, "invalid_cursor", "the cursor is invalid")
	// ErrNotFound is a record, checkpoint, key or pseudonym link that does not exist.
	ErrNotFound = fault.New(fault.NotFound, "not_found", "the resource does not exist")
	// ErrConflict is returned by a Store whose insert hit a unique index.
	ErrConflict = errors.New("audit: unique key taken")
	// ErrContention is an Append that lost the race for the chain's head too many times.
	ErrContention = fault.New(fault.Unavailable, "audit_contention", "the audit chain is busy; retry later")
)

// Actor is who made a request. A user's ID is their pseudonym (see Service.Pseudonym), never
// their user id; an API key's is the key's id; the system's names the job.
type Actor struct {
	Type string
	ID   string
}

// Input is one record as a producer hands it over, before it has a place in the chain. ID is
// the producer's unique id for it: an ID already in the tenant's chain is skipped, so a retried
// hand-over is stored once.
type Input struct {
	ID        string
	Time      time.Time
	Actor     Actor
	Action    string // the route key, "POST /v1/conversations"
	Resource  string
	Outcome   string
	Status    int
	IP        string
	UserAgent string
	LatencyMS int64
	RequestID string
	Details   map[string]string
}

// Record is an Input with its place in the tenant's chain.
type Record struct {
	Input
	TenantID     string
	Seq          int64
	PreviousHash string
	Hash         string
}

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	detailKeyPattern = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
	pseudonymPattern = regexp.MustCompile(`^` + PseudonymPrefix + `[0-9a-f]{64}$`)
)

// validate checks an input against the record format; it names the first field at fault.
func (in Input) validate() error {
	bad := func(detail string) error { return fault.WithDetail(ErrInvalidRecord, detail) }
	switch {
	case in.ID == "" || len(in.ID) > MaxIDLength || !idPattern.MatchString(in.ID):
		return bad("id must be 1 to 128 characters of A-Z a-z 0-9 _ . : -")
	case in.Time.IsZero():
		return bad("time is required")
	case !validText(in.Action, MaxActionLength, true):
		return bad("action must be 1 to 200 bytes of UTF-8")
	case !validText(in.Resource, MaxResourceLength, false):
		return bad("resource must be at most 512 bytes of UTF-8")
	case in.Outcome != OutcomeSuccess && in.Outcome != OutcomeFailure:
		return bad("outcome must be success or failure")
	case in.Status < 0 || in.Status > 999:
		return bad("status must be 0 to 999")
	case !validText(in.IP, MaxIPLength, false):
		return bad("ip must be at most 64 bytes")
	case !validText(in.UserAgent, MaxUserAgentLength, false):
		return bad("user_agent must be at most 512 bytes of UTF-8")
	case in.LatencyMS < 0 || in.LatencyMS > maxSafeInteger:
		return bad("latency_ms must not be negative")
	case !validText(in.RequestID, MaxRequestIDLength, false):
		return bad("request_id must be at most 128 bytes")
	case len(in.Details) > MaxDetails:
		return bad("details holds at most 16 entries")
	}
	for k, v := range in.Details {
		if !detailKeyPattern.MatchString(k) || !validText(v, MaxDetailValue, false) {
			return bad("details keys are 1 to 64 of a-z 0-9 _, values at most 1024 bytes of UTF-8")
		}
	}
	return in.Actor.validate()
}

func (a Actor) validate() error {
	bad := func(detail string) error { return fault.WithDetail(ErrInvalidRecord, detail) }
	switch a.Type {
	case ActorUser:
		if !pseudonymPattern.MatchString(a.ID) {
			return bad("a user actor is named by their pseudonym, never their user id")
		}
	case ActorAPIKey, ActorSystem, ActorAnonymous:
		if a.ID == "" || len(a.ID) > MaxIDLength || !idPattern.MatchString(a.ID) {
			return bad("actor id must be 1 to 128 characters of A-Z a-z 0-9 _ . : -")
		}
	default:
		return bad("actor type must be user, api_key, system or anonymous")
	}
	return nil
}

func validText(s string, max int, required bool) bool {
	if required && s == "" {
		return false
	}
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// canonicalObject is the record without its hash, as it is hashed, for the generic encoder:
// the reference Canonical is tested against. Every member is present:
// an empty string, 0, or {} for details when there are none.
func (r Record) canonicalObject() Object {
	details := make(Object, len(r.Details))
	for k, v := range r.Details {
		details[k] = v
	}
	return Object{
		"tenant_id":     r.TenantID,
		"seq":           r.Seq,
		"id":            r.ID,
		"time":          r.Time.UTC().Format(TimeFormat),
		"actor":         Object{"type": r.Actor.Type, "id": r.Actor.ID},
		"action":        r.Action,
		"resource":      r.Resource,
		"outcome":       r.Outcome,
		"status":        int64(r.Status),
		"ip":            r.IP,
		"user_agent":    r.UserAgent,
		"latency_ms":    r.LatencyMS,
		"request_id":    r.RequestID,
		"details":       details,
		"previous_hash": r.PreviousHash,
	}
}

// Canonical returns the bytes of the record that its hash covers (everything but the hash):
// Canonical(canonicalObject()), written directly since a record's member names, all ASCII,
// have one fixed order.
func (r Record) Canonical() ([]byte, error) {
	b := make([]byte, 0, 384+len(r.UserAgent)+len(r.Resource))
	var err error
	str := func(name, v string) {
		if err == nil {
			b = append(b, name...)
			b, err = appendString(b, v)
		}
	}
	num := func(name string, v int64) {
		if err == nil {
			b = append(b, name...)
			b, err = appendValue(b, v)
		}
	}
	str(`{"action":`, r.Action)
	str(`,"actor":{"id":`, r.Actor.ID)
	str(`,"type":`, r.Actor.Type)
	if err == nil {
		b = append(b, `},"details":`...)
		if len(r.Details) == 0 {
			b = append(b, `{}`...)
		} else {
			b, err = appendValue(b, r.Details)
		}
	}
	str(`,"id":`, r.ID)
	str(`,"ip":`, r.IP)
	num(`,"latency_ms":`, r.LatencyMS)
	str(`,"outcome":`, r.Outcome)
	str(`,"previous_hash":`, r.PreviousHash)
	str(`,"request_id":`, r.RequestID)
	str(`,"resource":`, r.Resource)
	num(`,"seq":`, r.Seq)
	num(`,"status":`, int64(r.Status))
	str(`,"tenant_id":`, r.TenantID)
	str(`,"time":`, r.Time.UTC().Format(TimeFormat))
	str(`,"user_agent":`, r.UserAgent)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	return append(b, '}'), nil
}

// ComputeHash returns hex(SHA-256(previous_hash bytes ‖ Canonical())): what Hash must be.
func (r Record) ComputeHash() (string, error) {
	c, err := r.Canonical()
	if err != nil {
		return "", err
	}
	return chainHash(r.PreviousHash, c)
}

// Filter selects records in Query; zero fields select everything.
type Filter struct {
	From, To time.Time // From inclusive, To exclusive
	ActorID  string
	Action   string
	Resource string
}

// Checkpoint is a signed statement of a tenant chain's head: the record at Seq has Hash.
// Signature is hex(Ed25519(CheckpointPayload)) by the key KeyID.
type Checkpoint struct {
	TenantID  string
	Seq       int64
	Hash      string
	Time      time.Time
	KeyID     string
	Signature string
}

// Payload returns the bytes a checkpoint's signature covers: the canonical encoding of
// {"hash","key_id","seq","tenant_id","time","type":"caas.audit.checkpoint.v1"}.
func (c Checkpoint) Payload() ([]byte, error) {
	return Canonical(Object{
		"type":      "caas.audit.checkpoint.v1",
		"tenant_id": c.TenantID,
		"seq":       c.Seq,
		"hash":      c.Hash,
		"time":      c.Time.UTC().Format(TimeFormat),
		"key_id":    c.KeyID,
	})
}

// Sealed is a secret the audit trail keeps per tenant (its pseudonym key or its checkpoint
// signing key), the secret part sealed by the key service; Public is the public half, if any.
type Sealed struct {
	TenantID  string
	Purpose   string
	KeyID     string
	Public    []byte
	Sealed    string
	CreatedAt time.Time
}

// Purposes of sealed secrets.
const (
	PurposePseudonym  = "pseudonym"
	PurposeCheckpoint = "checkpoint"
)

// PseudonymLink ties a pseudonym to the user it stands for. It lives apart from the chain, so
// erasure can delete it without touching a record.
type PseudonymLink struct {
	TenantID  string
	Pseudonym string
	UserID    string
	CreatedAt time.Time
}

// Store keeps the audit trail. Every method is scoped to one tenant.
type Store interface {
	// Head returns the record with the highest seq of the tenant's chain, or ErrNotFound.
	Head(ctx context.Context, tenantID string) (Record, error)
	// ExistingIDs returns which of the record ids are in the tenant's chain already.
	ExistingIDs(ctx context.Context, tenantID string, ids []string) (map[string]bool, error)
	// Record returns the tenant's record at seq, or ErrNotFound. It is a lookup by primary
	// key, cheap on every backend.
	Record(ctx context.Context, tenantID string, seq int64) (Record, error)
	// Insert stores records of one tenant in order and returns how many it stored. It stops
	// at the first that takes a seq or record id already present, returning ErrConflict with
	// the count of the ones before it.
	Insert(ctx context.Context, records []Record) (int, error)
	// Records returns up to limit records with fromSeq <= seq <= toSeq, ascending.
	Records(ctx context.Context, tenantID string, fromSeq, toSeq int64, limit int) ([]Record, error)
	// Query returns up to limit records matching f with seq < beforeSeq, newest (highest seq)
	// first.
	Query(ctx context.Context, tenantID string, f Filter, beforeSeq int64, limit int) ([]Record, error)
	// InsertCheckpoint stores a checkpoint, or returns ErrConflict when one exists at its seq.
	InsertCheckpoint(ctx context.Context, c Checkpoint) error
	// LastCheckpoint returns the checkpoint with the highest seq <= atOrBefore, or ErrNotFound.
	LastCheckpoint(ctx context.Context, tenantID string, atOrBefore int64) (Checkpoint, error)
	// Checkpoints returns the checkpoints with fromSeq <= seq <= toSeq, ascending.
	Checkpoints(ctx context.Context, tenantID string, fromSeq, toSeq int64) ([]Checkpoint, error)
	// InsertSealed stores a sealed secret, or returns ErrConflict when the tenant has one for
	// the purpose already.
	InsertSealed(ctx context.Context, s Sealed) error
	// Sealed returns the tenant's sealed secret for purpose, or ErrNotFound.
	Sealed(ctx context.Context, tenantID, purpose string) (Sealed, error)
	// InsertLink stores a pseudonym link; one that exists already is left as it is (no error).
	// When the user is forgotten (DeleteLinks ran for them) it stores nothing, or deletes what
	// it stored, and returns ErrForgotten.
	InsertLink(ctx context.Context, l PseudonymLink) error
	// Link returns the link of a pseudonym, or ErrNotFound.
	Link(ctx context.Context, tenantID, pseudonym string) (PseudonymLink, error)
	// DeleteLinks deletes every link to the user and returns how many it deleted.
	DeleteLinks(ctx context.Context, tenantID, userID string) (int, error)
}
