// Package idempotency makes creating calls safe to retry with an Idempotency-Key header (DESIGN
// §6). The first request with a key claims it by inserting a Claim into a store whose keys are
// unique, recording a fingerprint of the request and the id of the resource it will create,
// chosen before anything is written. A repeat of the same request then creates or completes that
// same resource, also when the first attempt stopped halfway, and a reuse of the key for another
// request is refused with ErrConflict.
//
// Uniqueness comes from the insert alone, never from an update, because the MongoDB subset
// FerretDB v1 serves does not make updates atomic (DESIGN §4).
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// Header is the request header that carries the client's key.
const Header = "Idempotency-Key"

// MaxKeyLen is the longest key, in bytes (each an ASCII character).
const MaxKeyLen = 255

// Failures of idempotent requests. Their codes are part of the API contract.
var (
	// ErrInvalidKey is returned for an Idempotency-Key header that is present but empty, longer
	// than MaxKeyLen or holds a character outside printable ASCII (0x20-0x7E).
	ErrInvalidKey = fault.New(fault.Invalid, "invalid_idempotency_key",
		"the Idempotency-Key header must be 1 to 255 printable ASCII characters")
	// ErrConflict is returned when a key is reused for a request that differs from the first
	// one made with it (another method, path or body).
	ErrConflict = fault.New(fault.Conflict, "idempotency_conflict",
		"this Idempotency-Key was already used for a different request")
)

// Request is what a creating request brings to idempotency: the client's key and the
// fingerprint of the request. The zero Request means the client sent no key.
type Request struct {
	Key           string
	RequestSHA256 string
}

// FromHTTP returns req's key and the fingerprint of the request, whose decoded body is body.
// It returns the zero Request when the header is absent and ErrInvalidKey when it is malformed.
func FromHTTP(req *edge.Request, body any) (Request, error) {
	key, present := header(req)
	if !present {
		return Request{}, nil
	}
	if !ValidKey(key) {
		return Request{}, ErrInvalidKey
	}
	sum, err := Fingerprint(req.RequestContext.HTTP.Method, req.RawPath, body)
	if err != nil {
		return Request{}, err
	}
	return Request{Key: key, RequestSHA256: sum}, nil
}

// header returns the Idempotency-Key header and whether the request has one at all, so an
// empty value is refused rather than taken for no key.
func header(req *edge.Request) (string, bool) {
	for k, v := range req.Headers {
		if strings.EqualFold(k, Header) {
			return v, true
		}
	}
	return "", false
}

// ValidKey reports whether key is 1 to MaxKeyLen printable ASCII characters.
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// Fingerprint returns the hex SHA-256 of the canonical form of a request: the method, a line
// feed, the path, a line feed, and the decoded body re-encoded with encoding/json (fields in
// declaration order, no insignificant white space). Two requests whose bodies decode to the
// same value therefore have the same fingerprint however their JSON was spelled.
func Fingerprint(method, path string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("fingerprint request: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(strings.ToUpper(method) + "\n" + path + "\n"))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Claim records that a key was used, within a scope, for one request and one resource. Scope
// names the operation and, for a tenant's calls, the tenant and the caller, so keys of
// different callers never meet. ResourceID is chosen before the resource is written.
type Claim struct {
	Scope         string
	Key           string
	RequestSHA256 string
	ResourceID    string
	CreatedAt     time.Time
}

// Store keeps claims. Implementations must hold their guarantee under concurrent callers on a
// store whose updates are not atomic: a claim is made by an insert into a unique index.
type Store interface {
	// Claim stores c unless a claim with the same Scope and Key exists; then it returns that
	// claim, unchanged, and claimed=false. claimed is true for exactly one of any number of
	// concurrent callers with the same scope and key.
	Claim(ctx context.Context, c Claim) (held Claim, claimed bool, err error)
}

// Settle claims r.Key within scope for a resource with the id resourceID, made at the time at.
// It returns the claim the caller must honour: its own when the key is new, or the first
// request's (replayed=true), whose ResourceID and CreatedAt the caller then uses to return,
// or to complete, that same resource. It fails with ErrConflict when the key was first used for
// a different request. r must have a key.
func Settle(ctx context.Context, s Store, scope string, r Request, resourceID string, at time.Time) (held Claim, replayed bool, err error) {
	if s == nil {
		return Claim{}, false, fmt.Errorf("settle idempotency key: no key store configured")
	}
	held, claimed, err := s.Claim(ctx, Claim{
		Scope: scope, Key: r.Key, RequestSHA256: r.RequestSHA256, ResourceID: resourceID, CreatedAt: at,
	})
	if err != nil {
		return Claim{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if !claimed && held.RequestSHA256 != r.RequestSHA256 {
		return Claim{}, false, ErrConflict
	}
	return held, !claimed, nil
}
