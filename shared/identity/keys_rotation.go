package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// Bounds of CAAS_SIGNING_KEY_ROTATION.
const (
	DefaultKeyRotation = 30 * 24 * time.Hour
	minKeyRotation     = time.Hour
	maxKeyRotation     = 365 * 24 * time.Hour
)

// RotationPolicy decides when signing keys are added and retired. A new generation is added
// when the newest active key is Rotation old. An older key is retired once it is Rotation plus
// TokenTTL old and every token it can have signed has expired: its successor has existed for
// longer than KeyPublishLead (before which it does not sign) plus TokenTTL plus
// DefaultActiveKeyMaxAge (the time a Login instance may keep signing with a key it loaded) plus
// the verifier's clock skew. The newest key is never
// retired.
type RotationPolicy struct {
	Rotation time.Duration
	TokenTTL time.Duration
}

// RotationPolicyFromEnv reads CAAS_SIGNING_KEY_ROTATION through getenv: a Go duration ("720h")
// or a number of days ("30d"), from 1h to 365d, 30 days when unset. tokenTTL is the access
// token lifetime.
func RotationPolicyFromEnv(getenv func(string) string, tokenTTL time.Duration) (RotationPolicy, error) {
	p := RotationPolicy{Rotation: DefaultKeyRotation, TokenTTL: tokenTTL}
	s := strings.TrimSpace(getenv("CAAS_SIGNING_KEY_ROTATION"))
	if s == "" {
		return p, nil
	}
	d, err := parseDays(s)
	if err != nil || d < minKeyRotation || d > maxKeyRotation {
		return p, fmt.Errorf("CAAS_SIGNING_KEY_ROTATION %q: must be a duration from 1h to 365d", s)
	}
	p.Rotation = d
	return p, nil
}

// parseDays parses "<n>d" as n days and anything else as a Go duration.
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("parse days %q: not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("parse duration: %w", err)
	}
	return d, nil
}

// retireAfterSuccessor is how long a key's successor must have existed before the key is
// retired: no token signed by the key can then still be valid.
func (p RotationPolicy) retireAfterSuccessor() time.Duration {
	return KeyPublishLead + p.TokenTTL + DefaultActiveKeyMaxAge + clockSkew
}

// plan is what one rotation run does.
type plan struct {
	add    bool
	retire []string
}

// planRotation decides, from the active keys, whether to add a generation and which keys to
// retire at now. It is pure so the decisions can be tested with any clock.
func planRotation(keys []PublicKey, now time.Time, p RotationPolicy) plan {
	var active []PublicKey
	for _, k := range keys {
		if k.Status == KeyActive {
			active = append(active, k)
		}
	}
	if len(active) == 0 {
		return plan{add: true}
	}
	// Newest first.
	slices.SortFunc(active, func(a, b PublicKey) int { return b.Generation - a.Generation })
	var out plan
	out.add = now.Sub(active[0].CreatedAt) >= p.Rotation
	for i := 1; i < len(active); i++ {
		k, successor := active[i], active[i-1]
		if now.Sub(k.CreatedAt) >= p.Rotation+p.TokenTTL && now.Sub(successor.CreatedAt) >= p.retireAfterSuccessor() {
			out.retire = append(out.retire, k.ID)
		}
	}
	return out
}

// KeyRotationStore is a KeyStore that can also retire keys.
type KeyRotationStore interface {
	KeyStore
	// RetireSigningKey sets the key's status to retired; retiring a retired or unknown key is
	// not an error, so two concurrent runs can both retire it.
	RetireSigningKey(ctx context.Context, id string) error
}

// KeyRotator is the daily signing key rotation.
type KeyRotator struct {
	Store  KeyRotationStore
	Policy RotationPolicy
	Clock  clock.Clock
	IDs    ids.Generator
	Events EventSink
}

// RotationResult reports one rotation run.
type RotationResult struct {
	ActiveKeyID string   `json:"active_key_id"`
	Added       bool     `json:"added"`
	Retired     []string `json:"retired"`
}

// Rotate adds a new active generation when the newest key is due, then retires the keys no
// valid token can need any more.
//
// A new key signs only KeyPublishLead after it is added (ActiveKeyCache), so verifiers that
// cache the JWKS have it before its first token. Two concurrent runs add at most one key: both
// try the same next generation and the store's unique index lets one in. Retiring is
// idempotent.
func (r *KeyRotator) Rotate(ctx context.Context) (RotationResult, error) {
	keys, err := r.Store.PublicKeys(ctx)
	if err != nil {
		return RotationResult{}, fmt.Errorf("rotate signing keys: %w", err)
	}
	now := r.Clock.Now()
	pl := planRotation(keys, now, r.Policy)
	res := RotationResult{Retired: []string{}}
	if pl.add {
		next := 1
		for _, k := range keys {
			next = max(next, k.Generation+1)
		}
		priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return res, fmt.Errorf("rotate signing keys: generate: %w", err)
		}
		k := SigningKey{ID: r.IDs.New(ids.Key), Generation: next, Private: priv, Status: KeyActive, CreatedAt: now}
		err = r.Store.InsertSigningKey(ctx, k)
		switch {
		case err == nil:
			res.Added = true
			r.Events.Record(ctx, Event{Kind: EventSigningKeyAdded, Reason: "rotation_due", At: now})
		case errors.Is(err, ErrKeyExists):
			// Another run added this generation first; its key is the new one.
		default:
			return res, fmt.Errorf("rotate signing keys: %w", err)
		}
	}
	for _, id := range pl.retire {
		if err := r.Store.RetireSigningKey(ctx, id); err != nil {
			return res, fmt.Errorf("rotate signing keys: %w", err)
		}
		res.Retired = append(res.Retired, id)
	}
	active, err := r.Store.ActiveSigningKey(ctx)
	if err != nil {
		return res, fmt.Errorf("rotate signing keys: %w", err)
	}
	res.ActiveKeyID = active.ID
	return res, nil
}
