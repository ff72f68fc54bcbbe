// Package identitytest holds the conformance suite every implementation of the identity stores
// must pass.
package identitytest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// Stores are the implementations under test. Each call of the factory given to RunStoreSuite
// returns empty, migrated stores that share nothing with those of another call.
type Stores struct {
	Users    identity.UserStore
	Sessions identity.SessionStore
	Keys     identity.KeyStore
}

var gen = ids.Random{}

// when is a stored time at the precision MongoDB keeps.
var when = time.Date(2025, 3, 4, 5, 6, 7, 8_000_000, time.UTC)

// RunStoreSuite runs the conformance tests against stores made by newStores.
func RunStoreSuite(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("Users", func(t *testing.T) { testUsers(t, newStores(t).Users) })
	t.Run("UsersConcurrentEmail", func(t *testing.T) { testConcurrentEmail(t, newStores(t).Users) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, newStores(t).Sessions) })
	t.Run("Keys", func(t *testing.T) { testKeys(t, newStores(t).Keys) })
	t.Run("KeysConcurrentEnsure", func(t *testing.T) { testConcurrentEnsure(t, newStores(t).Keys) })
}

func newUser(tenantID, email string) identity.User {
	return identity.User{ID: gen.New(ids.User), TenantID: tenantID, Email: email, DisplayName: "Ann Lee",
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5", CreatedAt: when}
}

func testUsers(t *testing.T, s identity.UserStore) {
	ctx := t.Context()
	tenA, tenB := gen.New(ids.Tenant), gen.New(ids.Tenant)
	u := newUser(tenA, "ann@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if got, err := s.UserByID(ctx, tenA, u.ID); err != nil || got != u {
		t.Fatalf("UserByID = %+v, %v; want %+v", got, err, u)
	}
	if got, err := s.UserByEmail(ctx, tenA, u.Email); err != nil || got != u {
		t.Fatalf("UserByEmail = %+v, %v; want %+v", got, err, u)
	}

	dup := newUser(tenA, "ann@example.com")
	if err := s.CreateUser(ctx, dup); !errors.Is(err, identity.ErrEmailTaken) {
		t.Fatalf("CreateUser(same email, same tenant) err = %v, want ErrEmailTaken", err)
	}
	if _, err := s.UserByID(ctx, tenA, dup.ID); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("the refused duplicate was stored: err = %v", err)
	}
	other := newUser(tenB, "ann@example.com")
	if err := s.CreateUser(ctx, other); err != nil {
		t.Fatalf("CreateUser(same email, other tenant): %v", err)
	}

	// Tenant isolation: another tenant's ids and emails behave as if they did not exist.
	if _, err := s.UserByID(ctx, tenB, u.ID); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("UserByID across tenants err = %v, want ErrUserNotFound", err)
	}
	if got, err := s.UserByEmail(ctx, tenB, u.Email); err != nil || got.ID != other.ID {
		t.Fatalf("UserByEmail(tenant B) = %+v, %v; want B's user", got, err)
	}
	if _, err := s.UserByID(ctx, tenA, gen.New(ids.User)); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("UserByID(unknown) err = %v", err)
	}
	if _, err := s.UserByEmail(ctx, tenA, "nobody@example.com"); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("UserByEmail(unknown) err = %v", err)
	}
}

func testConcurrentEmail(t *testing.T, s identity.UserStore) {
	tenantID := gen.New(ids.Tenant)
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateUser(t.Context(), newUser(tenantID, "race@example.com")) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, identity.ErrEmailTaken):
			t.Fatalf("concurrent CreateUser: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent registrations of one email succeeded, want 1", won, n)
	}
}

func testSessions(t *testing.T, s identity.SessionStore) {
	ctx := t.Context()
	tenantID := gen.New(ids.Tenant)
	ses := identity.Session{ID: gen.New(ids.Session), TenantID: tenantID, UserID: gen.New(ids.User),
		RefreshHash: "hash-1", CreatedAt: when, LastUsedAt: when.Add(time.Second), IP: "192.0.2.1", UserAgent: "curl/8"}
	if err := s.CreateSession(ctx, ses); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.SessionByID(ctx, tenantID, ses.ID)
	if err != nil {
		t.Fatalf("SessionByID: %v", err)
	}
	if got.RevokedAt != nil || got.ID != ses.ID || got.UserID != ses.UserID || got.RefreshHash != ses.RefreshHash ||
		!got.CreatedAt.Equal(ses.CreatedAt) || !got.LastUsedAt.Equal(ses.LastUsedAt) || got.IP != ses.IP || got.UserAgent != ses.UserAgent {
		t.Fatalf("SessionByID = %+v, want %+v", got, ses)
	}
	if _, err := s.SessionByID(ctx, gen.New(ids.Tenant), ses.ID); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("SessionByID across tenants err = %v, want ErrSessionNotFound", err)
	}
}

func testKeys(t *testing.T, s identity.KeyStore) {
	ctx := t.Context()
	if _, err := s.ActiveSigningKey(ctx); !errors.Is(err, identity.ErrNoActiveKey) {
		t.Fatalf("ActiveSigningKey on an empty store err = %v, want ErrNoActiveKey", err)
	}
	if keys, err := s.PublicKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("PublicKeys on an empty store = %v, %v", keys, err)
	}
	k1 := newKey(t, 1, identity.KeyRetired)
	k2 := newKey(t, 2, identity.KeyActive)
	for _, k := range []identity.SigningKey{k1, k2} {
		if err := s.InsertSigningKey(ctx, k); err != nil {
			t.Fatalf("InsertSigningKey: %v", err)
		}
	}
	if err := s.InsertSigningKey(ctx, newKey(t, 2, identity.KeyActive)); !errors.Is(err, identity.ErrKeyExists) {
		t.Fatalf("InsertSigningKey(taken generation) err = %v, want ErrKeyExists", err)
	}

	active, err := s.ActiveSigningKey(ctx)
	if err != nil || active.ID != k2.ID || active.Generation != 2 || !active.Private.Equal(k2.Private) || !active.CreatedAt.Equal(when) {
		t.Fatalf("ActiveSigningKey = %s gen %d, %v; want %s", active.ID, active.Generation, err, k2.ID)
	}
	pubs, err := s.PublicKeys(ctx)
	if err != nil || len(pubs) != 2 {
		t.Fatalf("PublicKeys = %d keys, %v; want 2", len(pubs), err)
	}
	// A signature by the stored private key verifies with the stored public key.
	digest := sha256.Sum256([]byte("payload"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, active.Private, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		want := map[string]*rsa.PrivateKey{k1.ID: k1.Private, k2.ID: k2.Private}[p.ID]
		if want == nil || !p.Key.Equal(&want.PublicKey) {
			t.Fatalf("PublicKeys returned %s, which does not match what was stored", p.ID)
		}
		if p.ID == k2.ID && rsa.VerifyPKCS1v15(p.Key, crypto.SHA256, digest[:], sig) != nil {
			t.Fatal("the stored public key does not verify the stored private key's signature")
		}
	}
}

func newKey(t *testing.T, generation int, status string) identity.SigningKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return identity.SigningKey{ID: gen.New(ids.Key), Generation: generation, Private: priv, Status: status, CreatedAt: when}
}

func testConcurrentEnsure(t *testing.T, s identity.KeyStore) {
	const n = 5
	var wg sync.WaitGroup
	got := make([]identity.SigningKey, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { got[i], errs[i] = identity.EnsureSigningKey(t.Context(), s, clock.System{}, gen) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("EnsureSigningKey: %v", errs[i])
		}
		if got[i].ID != got[0].ID {
			t.Fatalf("concurrent EnsureSigningKey returned two keys: %s and %s", got[0].ID, got[i].ID)
		}
	}
	pubs, err := s.PublicKeys(t.Context())
	if err != nil || len(pubs) != 1 {
		t.Fatalf("after concurrent EnsureSigningKey: %d keys, %v; want 1", len(pubs), err)
	}
}
