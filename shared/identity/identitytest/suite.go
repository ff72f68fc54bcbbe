// Package identitytest holds the conformance suite every implementation of the identity stores
// must pass.
package identitytest

import (
	"context"
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
	Keys     identity.KeyRotationStore
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
	t.Run("KeysRotation", func(t *testing.T) { testKeyRotation(t, newStores(t).Keys) })
}

func newUser(tenantID, email string) identity.User {
	return identity.User{ID: gen.New(ids.User), TenantID: tenantID, Email: email, DisplayName: "Ann Lee",
		PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5", Role: identity.RoleUser, CreatedAt: when}
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

	// A store that changes roles does so in the user's tenant only.
	if rs, ok := s.(identity.RoleStore); ok {
		if err := rs.SetUserRole(ctx, tenB, u.ID, identity.RoleAdmin); !errors.Is(err, identity.ErrUserNotFound) {
			t.Fatalf("SetUserRole(other tenant) err = %v, want ErrUserNotFound", err)
		}
		if got, _ := s.UserByID(ctx, tenA, u.ID); got.Role != identity.RoleUser {
			t.Fatalf("another tenant changed the role: %q", got.Role)
		}
		if err := rs.SetUserRole(ctx, tenA, u.ID, identity.RoleAdmin); err != nil {
			t.Fatalf("SetUserRole: %v", err)
		}
		if got, err := s.UserByID(ctx, tenA, u.ID); err != nil || got.Role != identity.RoleAdmin {
			t.Fatalf("after SetUserRole: %+v, %v", got, err)
		}
		if err := rs.SetUserRole(ctx, tenA, u.ID, identity.RoleUser); err != nil {
			t.Fatalf("SetUserRole back: %v", err)
		}
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

func testKeys(t *testing.T, s identity.KeyRotationStore) {
	ctx := t.Context()
	if _, err := s.ActiveSigningKey(ctx); !errors.Is(err, identity.ErrNoActiveKey) {
		t.Fatalf("ActiveSigningKey on an empty store err = %v, want ErrNoActiveKey", err)
	}
	if keys, err := s.PublicKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("PublicKeys on an empty store = %v, %v", keys, err)
	}
	k1 := newKey(t, 1, identity.KeyRetired)
	k2 := newKey(t, 2, identity.KeyActive)
	k3 := newKey(t, 3, identity.KeyActive)
	for _, k := range []identity.SigningKey{k1, k2, k3} {
		if err := s.InsertSigningKey(ctx, k); err != nil {
			t.Fatalf("InsertSigningKey: %v", err)
		}
	}
	if err := s.InsertSigningKey(ctx, newKey(t, 2, identity.KeyActive)); !errors.Is(err, identity.ErrKeyExists) {
		t.Fatalf("InsertSigningKey(taken generation) err = %v, want ErrKeyExists", err)
	}

	active, err := s.ActiveSigningKey(ctx)
	if err != nil || active.ID != k3.ID || active.Generation != 3 || !active.Private.Equal(k3.Private) || !active.CreatedAt.Equal(when) {
		t.Fatalf("ActiveSigningKey = %s gen %d, %v; want %s", active.ID, active.Generation, err, k3.ID)
	}
	// A key is found by id whatever its status, so the previous key can keep signing while a
	// new one is published ahead of use.
	for _, want := range []identity.SigningKey{k1, k2} {
		got, err := s.SigningKeyByID(ctx, want.ID)
		if err != nil || got.Generation != want.Generation || got.Status != want.Status || !got.Private.Equal(want.Private) {
			t.Fatalf("SigningKeyByID(%s) = gen %d %s, %v", want.ID, got.Generation, got.Status, err)
		}
	}
	if _, err := s.SigningKeyByID(ctx, "key_unknown"); !errors.Is(err, identity.ErrKeyNotFound) {
		t.Fatalf("SigningKeyByID(unknown) err = %v, want ErrKeyNotFound", err)
	}
	// The retired key is not published: the current and the previous are.
	pubs, err := s.PublicKeys(ctx)
	if err != nil || len(pubs) != 2 {
		t.Fatalf("PublicKeys = %d keys, %v; want 2 (the retired key left out)", len(pubs), err)
	}
	// A signature by the stored private key verifies with the stored public key.
	digest := sha256.Sum256([]byte("payload"))
	sig, err := rsa.SignPKCS1v15(rand.Reader, active.Private, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		want := map[string]identity.SigningKey{k2.ID: k2, k3.ID: k3}[p.ID]
		if want.Private == nil || !p.Key.Equal(&want.Private.PublicKey) || p.Generation != want.Generation ||
			p.Status != identity.KeyActive || !p.CreatedAt.Equal(when) {
			t.Fatalf("PublicKeys returned %+v, which does not match what was stored", p)
		}
		if p.ID == k3.ID && rsa.VerifyPKCS1v15(p.Key, crypto.SHA256, digest[:], sig) != nil {
			t.Fatal("the stored public key does not verify the stored private key's signature")
		}
	}

	// Retiring is idempotent, unknown ids are no error, and a retired key is no longer published.
	for range 2 {
		if err := s.RetireSigningKey(ctx, k2.ID); err != nil {
			t.Fatalf("RetireSigningKey: %v", err)
		}
	}
	if err := s.RetireSigningKey(ctx, gen.New(ids.Key)); err != nil {
		t.Fatalf("RetireSigningKey(unknown) = %v", err)
	}
	pubs, err = s.PublicKeys(ctx)
	if err != nil || len(pubs) != 1 || pubs[0].ID != k3.ID {
		t.Fatalf("after retiring %s: PublicKeys = %+v, %v", k2.ID, pubs, err)
	}
	if active, err := s.ActiveSigningKey(ctx); err != nil || active.ID != k3.ID {
		t.Fatalf("ActiveSigningKey after retiring the previous key = %s, %v", active.ID, err)
	}
}

// testKeyRotation runs the rotation against the store: concurrent runs add one generation, and
// the previous key is retired once no token can need it.
func testKeyRotation(t *testing.T, s identity.KeyRotationStore) {
	clk := clock.NewFixed(when)
	first, err := identity.EnsureSigningKey(t.Context(), s, clk, gen)
	if err != nil {
		t.Fatal(err)
	}
	policy := identity.RotationPolicy{Rotation: 24 * time.Hour, TokenTTL: 15 * time.Minute}
	newRotator := func() *identity.KeyRotator {
		return &identity.KeyRotator{Store: s, Policy: policy, Clock: clk, IDs: gen, Events: discard{}}
	}
	clk.Advance(25 * time.Hour)
	const n = 4
	var wg sync.WaitGroup
	results := make([]identity.RotationResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = newRotator().Rotate(t.Context()) })
	}
	wg.Wait()
	added := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Rotate: %v", errs[i])
		}
		if results[i].Added {
			added++
		}
		if results[i].ActiveKeyID == first.ID {
			t.Fatalf("run %d still reports the first key active", i)
		}
	}
	pubs, err := s.PublicKeys(t.Context())
	if added != 1 || err != nil || len(pubs) != 2 {
		t.Fatalf("concurrent rotation added %d keys; %d published, %v; want 1 and 2", added, len(pubs), err)
	}
	clk.Advance(2 * time.Hour)
	res, err := newRotator().Rotate(t.Context())
	if err != nil || len(res.Retired) != 1 || res.Retired[0] != first.ID || res.Added {
		t.Fatalf("second rotation: %+v, %v; want %s retired", res, err, first.ID)
	}
	pubs, err = s.PublicKeys(t.Context())
	if err != nil || len(pubs) != 1 || pubs[0].ID != res.ActiveKeyID {
		t.Fatalf("after retirement: %+v, %v", pubs, err)
	}
}

// discard is an EventSink that drops events.
type discard struct{}

func (discard) Record(context.Context, identity.Event) {}

func newKey(t *testing.T, generation int, status string) identity.SigningKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return identity.SigningKey{ID: gen.New(ids.Key), Generation: generation, Private: priv, Status: status, CreatedAt: when}
}

func testConcurrentEnsure(t *testing.T, s identity.KeyRotationStore) {
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
