// Package tenant creates tenants and authenticates their servers by API key.
//
// An API key reads "caas_sk_<tenant id>_<secret>", the secret being 32 random bytes in
// base64url. The key names its tenant, so authenticating it is one lookup by id followed by a
// constant-time comparison of SHA-256 hashes; only the hash is stored, and the key is shown
// once, in the answer to CreateTenant. The secret has full entropy, so a fast hash is enough.
package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
)

// Tenant is one customer of the platform. APIKeyHash is the SHA-256 of its API key, base64url.
type Tenant struct {
	ID         string
	Name       string
	APIKeyHash string
	CreatedAt  time.Time
}

// Failures of the tenant domain.
var (
	// ErrNotFound: no tenant has this id.
	ErrNotFound = fault.New(fault.NotFound, "tenant_not_found", "the tenant does not exist")
	// ErrExists: a tenant with this id exists already.
	ErrExists = fault.New(fault.Conflict, "tenant_exists", "a tenant with this id exists")
	// ErrInvalidAPIKey: the X-Api-Key header is missing, malformed or wrong.
	ErrInvalidAPIKey = fault.New(fault.Unauthorized, "invalid_api_key", "the API key is missing or invalid")
	// ErrInvalidAdminKey: the X-Admin-Key header is missing or wrong.
	ErrInvalidAdminKey = fault.New(fault.Unauthorized, "invalid_admin_key", "the admin key is missing or invalid")
	// ErrInvalidName: the tenant name is empty, too long or holds control characters.
	ErrInvalidName = fault.New(fault.Invalid, "invalid_name",
		"the name must be 1 to 100 characters without control characters")
	// ErrKeyShownOnce: a repeat of a CreateTenant request (same Idempotency-Key, same body)
	// found the tenant created by an earlier attempt, whose API key was shown only in that
	// attempt's answer. The detail names the tenant.
	ErrKeyShownOnce = fault.New(fault.Conflict, "idempotent_replay_secret",
		"the tenant was created by an earlier request with this Idempotency-Key; its API key was shown only then and is not stored")
)

// Store keeps tenants.
type Store interface {
	// CreateTenant stores t; it fails with ErrExists when t.ID is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// TenantByID returns the tenant, or ErrNotFound.
	TenantByID(ctx context.Context, id string) (Tenant, error)
}

// Service creates and authenticates tenants. Keys is needed only by Create, and only for
// requests with an Idempotency-Key.
type Service struct {
	Store Store
	Keys  idempotency.Store
	Clock clock.Clock
	IDs   ids.Generator
}

// createTenantOp is the scope of CreateTenant's idempotency keys: one platform operator, one
// operation.
const createTenantOp = "tenants.create"

// keyPrefix starts every API key, so a leaked key is recognisable by secret scanners.
const keyPrefix = "caas_sk_"

// maxNameLen is the longest tenant name, in code points.
const maxNameLen = 100

// Create makes a tenant and returns it with its API key, which is not stored and cannot be
// shown again. It fails with ErrInvalidName.
//
// With a key in r the request is settled first (idempotency.Settle), remembering the tenant id
// chosen up front, and the tenant, a single insert, is created under that id: a repeat after
// the first attempt stopped before the insert creates the tenant and answers its key; a repeat
// after the tenant exists fails with ErrKeyShownOnce, naming the tenant; a different request
// with the key fails with idempotency.ErrConflict. Of concurrent repeats exactly one creates
// the tenant and sees its key.
//
// A repeat is refused rather than answered like the first because the first answer held the
// API key, which is stored only as a hash. Storing the key, even encrypted, to replay it would
// keep a credential where anyone reading the claims could find it; answering the tenant with
// the key left out would let a client that reads the key from any success store an empty one
// and find out only when it fails to authenticate. A 409 problem is impossible to mistake for
// a creation, tells the operator which tenant exists, and keeps nothing secret at rest.
func (s *Service) Create(ctx context.Context, name string, r idempotency.Request) (Tenant, string, error) {
	name, err := normalizeName(name)
	if err != nil {
		return Tenant{}, "", err
	}

	t := Tenant{ID: s.IDs.New(ids.Tenant), Name: name, CreatedAt: s.Clock.Now()}
	if r.Key != "" {
		held, _, err := idempotency.Settle(ctx, s.Keys, createTenantOp, r, t.ID, t.CreatedAt)
		if err != nil {
			return Tenant{}, "", fmt.Errorf("create tenant: %w", err)
		}
		t.ID, t.CreatedAt = held.ResourceID, held.CreatedAt
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return Tenant{}, "", fmt.Errorf("create tenant: read random: %w", err)
	}
	key := keyPrefix + t.ID + "_" + base64.RawURLEncoding.EncodeToString(secret)
	t.APIKeyHash = HashAPIKey(key)
	if err := s.Store.CreateTenant(ctx, t); err != nil {
		if r.Key != "" && errors.Is(err, ErrExists) {
			return Tenant{}, "", fault.WithDetail(ErrKeyShownOnce, fmt.Sprintf(
				"tenant %s was created by an earlier request with this Idempotency-Key; its API key was shown only then", t.ID))
		}
		return Tenant{}, "", fmt.Errorf("create tenant: %w", err)
	}
	return t, key, nil
}

// Authenticate returns the id of the tenant that owns apiKey, or ErrInvalidAPIKey for a
// missing, malformed or wrong key and for a key of an unknown tenant.
func (s *Service) Authenticate(ctx context.Context, apiKey string) (string, error) {
	tenantID, ok := ParseAPIKey(apiKey)
	if !ok {
		return "", ErrInvalidAPIKey
	}
	t, err := s.Store.TenantByID(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return "", ErrInvalidAPIKey
	}
	if err != nil {
		return "", fmt.Errorf("authenticate tenant: %w", err)
	}
	want, got := []byte(t.APIKeyHash), []byte(HashAPIKey(apiKey))
	if subtle.ConstantTimeCompare(want, got) != 1 {
		return "", ErrInvalidAPIKey
	}
	return t.ID, nil
}

// ParseAPIKey returns the tenant id an API key names, and whether the key is well formed.
func ParseAPIKey(key string) (tenantID string, ok bool) {
	rest, found := strings.CutPrefix(key, keyPrefix)
	// A tenant id has a fixed length: "ten_" and 26 characters.
	idLen := len(ids.Tenant) + 27
	if !found || len(rest) != idLen+1+43 || rest[idLen] != '_' {
		return "", false
	}
	tenantID = rest[:idLen]
	if !ids.Valid(ids.Tenant, tenantID) {
		return "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(rest[idLen+1:]); err != nil {
		return "", false
	}
	return tenantID, true
}

// HashAPIKey is the stored form of an API key: its SHA-256, base64url-encoded.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckAdminKey compares the presented admin key with the configured one in constant time
// (over their SHA-256, so the comparison's time does not reveal the length either).
// It fails with ErrInvalidAdminKey; an empty configured key refuses everything.
func CheckAdminKey(configured, presented string) error {
	want, got := sha256.Sum256([]byte(configured)), sha256.Sum256([]byte(presented))
	if configured == "" || subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return ErrInvalidAdminKey
	}
	return nil
}

func normalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen {
		return "", ErrInvalidName
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", ErrInvalidName
		}
	}
	return s, nil
}
