package identity

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// Status of a signing key.
const (
	// KeyActive keys are published and verify tokens; the newest active generation signs.
	KeyActive = "active"
	// KeyRetired keys are neither published nor trusted: a token they signed is refused.
	KeyRetired = "retired"
)

// rsaBits is the modulus size of new signing keys.
const rsaBits = 2048

// SigningKey is an RSA key that signs access tokens. ID is the JWT kid. Generation numbers
// keys in the order they were made; the store keeps it unique, which is what makes creating
// the first key safe when two Migrate runs race (FerretDB has no atomic update, so the
// insert decides).
type SigningKey struct {
	ID         string
	Generation int
	Private    *rsa.PrivateKey
	Status     string
	CreatedAt  time.Time
}

// PublicKey is the verifying half of a signing key.
type PublicKey struct {
	ID         string
	Generation int
	Key        *rsa.PublicKey
	Status     string
	CreatedAt  time.Time
}

// KeyStore keeps signing keys (in the caas_crypto database, apart from platform data).
type KeyStore interface {
	// InsertSigningKey stores k. It fails with ErrKeyExists when k.ID or k.Generation is taken.
	InsertSigningKey(ctx context.Context, k SigningKey) error
	// ActiveSigningKey returns the active key of the highest generation, or ErrNoActiveKey.
	ActiveSigningKey(ctx context.Context) (SigningKey, error)
	// SigningKeyByID returns the key with this id, whatever its status, or ErrKeyNotFound.
	SigningKeyByID(ctx context.Context, id string) (SigningKey, error)
	// PublicKeys returns the public half of every key that may still verify a token (the
	// active ones; retired keys are left out), in no particular order.
	PublicKeys(ctx context.Context) ([]PublicKey, error)
}

// EnsureSigningKey makes sure an active signing key exists, creating one when none does.
// Concurrent callers end with the same single key: the losers of the insert race read the
// winner's key. Migrate calls it; it is idempotent.
func EnsureSigningKey(ctx context.Context, store KeyStore, clk clock.Clock, gen ids.Generator) (SigningKey, error) {
	for range 3 {
		// One snapshot decides both whether a key is active and which generation comes next:
		// every caller that saw no active key in a snapshot with the same newest generation
		// tries the same next generation, and the unique index lets exactly one of them in.
		all, err := store.PublicKeys(ctx)
		if err != nil {
			return SigningKey{}, fmt.Errorf("ensure signing key: %w", err)
		}
		next := 1
		active := false
		for _, p := range all {
			next = max(next, p.Generation+1)
			active = active || p.Status == KeyActive
		}
		if active {
			k, err := store.ActiveSigningKey(ctx)
			if err != nil {
				return SigningKey{}, fmt.Errorf("ensure signing key: %w", err)
			}
			return k, nil
		}
		priv, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return SigningKey{}, fmt.Errorf("ensure signing key: generate: %w", err)
		}
		k := SigningKey{ID: gen.New(ids.Key), Generation: next, Private: priv, Status: KeyActive, CreatedAt: clk.Now()}
		err = store.InsertSigningKey(ctx, k)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, ErrKeyExists) {
			return SigningKey{}, fmt.Errorf("ensure signing key: %w", err)
		}
	}
	return SigningKey{}, errors.New("ensure signing key: lost the insert race three times")
}

// ActiveKeyCache keeps the active signing key of one process (one Lambda instance), so Login
// reads the key store only on a cold start and then once per MaxAge: after a rotation every
// instance signs with the new key within MaxAge.
type ActiveKeyCache struct {
	Store KeyStore
	// Clock defaults to the system clock; MaxAge to DefaultActiveKeyMaxAge.
	Clock  clock.Clock
	MaxAge time.Duration

	mu       sync.Mutex
	key      *SigningKey
	loadedAt time.Time
}

// DefaultActiveKeyMaxAge is how long a process keeps signing with the key it loaded. Key
// retirement waits for it (see RotationPolicy), so it must stay short.
const DefaultActiveKeyMaxAge = 5 * time.Minute

// Get returns the cached active key, loading it on first use and when it is older than MaxAge.
// A failed load is not cached.
func (c *ActiveKeyCache) Get(ctx context.Context) (SigningKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := now(c.Clock)
	if c.key != nil && now.Sub(c.loadedAt) < cmp.Or(c.MaxAge, DefaultActiveKeyMaxAge) {
		return *c.key, nil
	}
	k, err := c.Store.ActiveSigningKey(ctx)
	if err != nil {
		return SigningKey{}, fmt.Errorf("load signing key: %w", err)
	}
	if now.Sub(k.CreatedAt) < KeyPublishLead {
		// Too new to sign: verifiers may not have fetched it yet. Its predecessor signs until
		// the lead has passed; the first key of a platform has none and signs at once.
		prev, err := previousActive(ctx, c.Store, k)
		if err != nil {
			return SigningKey{}, fmt.Errorf("load signing key: %w", err)
		}
		if prev.ID != "" {
			k = prev
		}
	}
	c.key, c.loadedAt = &k, now
	return k, nil
}

// KeyPublishLead is how long a new signing key is published in the JWKS before it signs: far
// longer than any verifier keeps the key set (ours reload within DefaultKeySetMaxAge; the JWKS
// answer says max-age=300), so no verifier meets a kid it has never seen.
const KeyPublishLead = time.Hour

// previousActive returns the active key of the highest generation below k's, or a zero key
// when there is none.
func previousActive(ctx context.Context, store KeyStore, k SigningKey) (SigningKey, error) {
	keys, err := store.PublicKeys(ctx)
	if err != nil {
		return SigningKey{}, err
	}
	var prevID string
	prevGen := 0
	for _, p := range keys {
		if p.Status == KeyActive && p.Generation < k.Generation && p.Generation > prevGen {
			prevID, prevGen = p.ID, p.Generation
		}
	}
	if prevID == "" {
		return SigningKey{}, nil
	}
	return store.SigningKeyByID(ctx, prevID)
}

// now reads clk, or the system clock when clk is nil.
func now(clk clock.Clock) time.Time {
	if clk == nil {
		return time.Now()
	}
	return clk.Now()
}

// KeySet resolves a kid to its public key for verification. Keys are cached for MaxAge, so a
// retired key stops verifying within MaxAge of its retirement; an unknown kid triggers a
// reload from the store, at most once per MinReload, so a flood of tokens with made-up kids
// cannot turn into a flood of database reads.
type KeySet struct {
	Store     KeyStore
	Clock     clock.Clock
	MinReload time.Duration
	// MaxAge bounds how long loaded keys are trusted before a reload; DefaultKeySetMaxAge
	// when zero.
	MaxAge time.Duration

	mu       sync.Mutex
	keys     map[string]*rsa.PublicKey
	loadedAt time.Time
}

// DefaultMinReload is how often an unknown kid may cause a reload of the keys.
const DefaultMinReload = 30 * time.Second

// DefaultKeySetMaxAge is how long a KeySet trusts the keys it loaded without reloading them.
const DefaultKeySetMaxAge = 5 * time.Minute

// maxKidLen bounds the kid accepted from a token header.
const maxKidLen = 64

// Lookup returns the public key named kid, or ErrKeyNotFound.
func (s *KeySet) Lookup(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if kid == "" || len(kid) > maxKidLen {
		return nil, ErrKeyNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.Clock.Now()
	fresh := s.keys != nil && now.Sub(s.loadedAt) < cmp.Or(s.MaxAge, DefaultKeySetMaxAge)
	if k, ok := s.keys[kid]; ok && fresh {
		return k, nil
	}
	if fresh && now.Sub(s.loadedAt) < cmp.Or(s.MinReload, DefaultMinReload) {
		return nil, ErrKeyNotFound
	}
	all, err := s.Store.PublicKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("load public keys: %w", err)
	}
	s.keys = make(map[string]*rsa.PublicKey, len(all))
	for _, p := range all {
		if p.Status == KeyActive {
			s.keys[p.ID] = p.Key
		}
	}
	s.loadedAt = now
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrKeyNotFound
}
