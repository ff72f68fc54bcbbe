package identitytest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// Recorder is an EventSink that keeps the events it receives, for tests.
type Recorder struct {
	mu     sync.Mutex
	events []identity.Event
}

// Record keeps e.
func (r *Recorder) Record(_ context.Context, e identity.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Count returns how many events of this kind were recorded.
func (r *Recorder) Count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// RunSessionSuite runs the session and refresh-rotation tests against stores made by newStores.
func RunSessionSuite(t *testing.T, newStores func(t *testing.T) Stores) {
	t.Run("SessionStore", func(t *testing.T) { testSessionStore(t, newStores(t).Sessions) })
	t.Run("ConcurrentSpend", func(t *testing.T) { testConcurrentSpend(t, newStores(t).Sessions) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, newSessionFixture(t, newStores(t))) })
	t.Run("ReuseRevokesFamily", func(t *testing.T) { testReuse(t, newSessionFixture(t, newStores(t))) })
	t.Run("GraceWindow", func(t *testing.T) { testGrace(t, newSessionFixture(t, newStores(t))) })
	t.Run("ConcurrentRefresh", func(t *testing.T) { testConcurrentRefresh(t, newSessionFixture(t, newStores(t))) })
	t.Run("LogoutAndEnd", func(t *testing.T) { testLogoutAndEnd(t, newSessionFixture(t, newStores(t))) })
}

func testSessionStore(t *testing.T, s identity.SessionStore) {
	ctx := t.Context()
	tenantID, userID := gen.New(ids.Tenant), gen.New(ids.User)
	var made []identity.Session
	for i := range 3 {
		ses := identity.Session{ID: gen.New(ids.Session), TenantID: tenantID, UserID: userID,
			RefreshHash: gen.New("h"), CreatedAt: when.Add(time.Duration(i) * time.Minute), LastUsedAt: when}
		if err := s.CreateSession(ctx, ses); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		made = append(made, ses)
	}
	other := identity.Session{ID: gen.New(ids.Session), TenantID: tenantID, UserID: gen.New(ids.User), RefreshHash: gen.New("h"), CreatedAt: when, LastUsedAt: when}
	if err := s.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}

	l, err := s.ListSessions(ctx, tenantID, userID, 2)
	if err != nil || len(l) != 2 || l[0].ID != made[2].ID || l[1].ID != made[1].ID {
		t.Fatalf("ListSessions(limit 2) = %+v, %v; want the two newest", l, err)
	}
	if l, _ := s.ListSessions(ctx, gen.New(ids.Tenant), userID, 10); len(l) != 0 {
		t.Fatalf("ListSessions of another tenant = %d sessions", len(l))
	}
	if err := s.TouchSession(ctx, tenantID, made[0].ID, when.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByID(ctx, tenantID, made[0].ID); !got.LastUsedAt.Equal(when.Add(time.Hour)) {
		t.Fatalf("TouchSession did not set LastUsedAt: %v", got.LastUsedAt)
	}

	end := when.Add(2 * time.Hour)
	if ok, err := s.EndSession(ctx, tenantID, userID, other.ID, end); ok || err != nil {
		t.Fatalf("EndSession of another user's session = %v, %v; want false", ok, err)
	}
	if ok, err := s.EndSession(ctx, gen.New(ids.Tenant), userID, made[0].ID, end); ok || err != nil {
		t.Fatalf("EndSession across tenants = %v, %v; want false", ok, err)
	}
	if ok, err := s.EndSession(ctx, tenantID, userID, made[0].ID, end); !ok || err != nil {
		t.Fatalf("EndSession = %v, %v; want true", ok, err)
	}
	if ok, _ := s.EndSession(ctx, tenantID, userID, made[0].ID, end); ok {
		t.Fatal("EndSession of an ended session = true")
	}
	if got, _ := s.SessionByID(ctx, tenantID, made[0].ID); got.RevokedAt == nil || !got.RevokedAt.Equal(end) {
		t.Fatalf("ended session RevokedAt = %v", got.RevokedAt)
	}
	if n, err := s.EndUserSessions(ctx, tenantID, userID, end); n != 2 || err != nil {
		t.Fatalf("EndUserSessions = %d, %v; want 2", n, err)
	}
	if l, _ := s.ListSessions(ctx, tenantID, userID, 10); len(l) != 0 {
		t.Fatalf("ListSessions after EndUserSessions = %d sessions", len(l))
	}
	if got, _ := s.SessionByID(ctx, tenantID, other.ID); got.RevokedAt != nil {
		t.Fatal("EndUserSessions ended another user's session")
	}

	rt := identity.RefreshToken{Hash: gen.New("h"), TenantID: tenantID, UserID: userID, SessionID: made[1].ID,
		Generation: 3, IssuedAt: when, ExpiresAt: when.Add(time.Hour)}
	if err := s.AddRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if got, err := s.RefreshTokenByHash(ctx, rt.Hash); err != nil || got != rt {
		t.Fatalf("RefreshTokenByHash = %+v, %v; want %+v", got, err, rt)
	}
	if _, err := s.RefreshTokenByHash(ctx, "nope"); !errors.Is(err, identity.ErrRefreshTokenNotFound) {
		t.Fatalf("RefreshTokenByHash(unknown) err = %v", err)
	}
	sp := identity.Spend{TenantID: tenantID, SessionID: made[1].ID, Generation: 3, At: when}
	if _, err := s.SpentGeneration(ctx, tenantID, sp.SessionID, 3); !errors.Is(err, identity.ErrRefreshTokenNotFound) {
		t.Fatalf("SpentGeneration before a spend err = %v", err)
	}
	if err := s.SpendGeneration(ctx, sp); err != nil {
		t.Fatal(err)
	}
	if err := s.SpendGeneration(ctx, sp); !errors.Is(err, identity.ErrAlreadySpent) {
		t.Fatalf("second SpendGeneration err = %v, want ErrAlreadySpent", err)
	}
	if got, err := s.SpentGeneration(ctx, tenantID, sp.SessionID, 3); err != nil || got != sp {
		t.Fatalf("SpentGeneration = %+v, %v", got, err)
	}
	if _, err := s.SpentGeneration(ctx, gen.New(ids.Tenant), sp.SessionID, 3); !errors.Is(err, identity.ErrRefreshTokenNotFound) {
		t.Fatalf("SpentGeneration across tenants err = %v", err)
	}
}

func testConcurrentSpend(t *testing.T, s identity.SessionStore) {
	const n = 10
	sp := identity.Spend{TenantID: gen.New(ids.Tenant), SessionID: gen.New(ids.Session), Generation: 0, At: when}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = s.SpendGeneration(t.Context(), sp) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, identity.ErrAlreadySpent):
			t.Fatalf("SpendGeneration: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent spends succeeded, want 1", won, n)
	}
}

type sessionFixture struct {
	svc    *identity.SessionService
	stores Stores
	clock  *clock.Fixed
	events *Recorder
	user   identity.User
	ver    *identity.Verifier
}

type singleKey struct{ k identity.SigningKey }

func (s singleKey) Lookup(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if kid != s.k.ID {
		return nil, identity.ErrKeyNotFound
	}
	return &s.k.Private.PublicKey, nil
}

func newSessionFixture(t *testing.T, st Stores) *sessionFixture {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := identity.SigningKey{ID: gen.New(ids.Key), Generation: 1, Private: priv, Status: identity.KeyActive, CreatedAt: when}
	if err := st.Keys.InsertSigningKey(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFixed(when)
	cfg := identity.TokenConfig{Issuer: "caas-test", Audience: "caas", TTL: 15 * time.Minute}
	u := newUser(gen.New(ids.Tenant), "ann@example.com")
	if err := st.Users.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{}
	svc, err := identity.NewSessionService(identity.SessionDeps{
		Users: st.Users, Sessions: st.Sessions, Keys: &identity.ActiveKeyCache{Store: st.Keys, Clock: clk},
		Tokens: &identity.Issuer{Config: cfg, Clock: clk, IDs: gen}, Events: rec, Clock: clk, IDs: gen,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &sessionFixture{svc: svc, stores: st, clock: clk, events: rec, user: u,
		ver: &identity.Verifier{Config: cfg, Keys: singleKey{key}, Clock: clk}}
}

func (f *sessionFixture) open(t *testing.T) identity.Tokens {
	t.Helper()
	tok, err := f.svc.Open(t.Context(), f.user, "192.0.2.1", "test-agent")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return tok
}

func (f *sessionFixture) refresh(t *testing.T, token string) (identity.Tokens, error) {
	t.Helper()
	return f.svc.Refresh(t.Context(), identity.RefreshInput{RefreshToken: token, IP: "192.0.2.2", UserAgent: "test-agent"})
}

func (f *sessionFixture) mustRefresh(t *testing.T, token string) identity.Tokens {
	t.Helper()
	got, err := f.refresh(t, token)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return got
}

func (f *sessionFixture) live(t *testing.T, sessionID string) bool {
	t.Helper()
	s, err := f.stores.Sessions.SessionByID(t.Context(), f.user.TenantID, sessionID)
	if err != nil {
		t.Fatal(err)
	}
	return s.RevokedAt == nil
}

func (f *sessionFixture) generation(t *testing.T, token string) int {
	t.Helper()
	rt, err := f.stores.Sessions.RefreshTokenByHash(t.Context(), identity.HashRefreshToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return rt.Generation
}

func testRotation(t *testing.T, f *sessionFixture) {
	t0 := f.open(t)
	f.clock.Advance(time.Minute)
	t1 := f.mustRefresh(t, t0.RefreshToken)
	if t1.SessionID != t0.SessionID || t1.RefreshToken == t0.RefreshToken || t1.AccessToken == t0.AccessToken {
		t.Fatalf("refresh returned %+v after %+v; want a new pair of the same session", t1.SessionID, t0.SessionID)
	}
	c, err := f.ver.Verify(t.Context(), t1.AccessToken)
	if err != nil || c.SessionID != t0.SessionID || c.Subject != f.user.ID || c.TenantID != f.user.TenantID {
		t.Fatalf("the new access token: %+v, %v", c, err)
	}
	f.clock.Advance(time.Minute)
	t2 := f.mustRefresh(t, t1.RefreshToken)
	if g := f.generation(t, t2.RefreshToken); g != 2 {
		t.Fatalf("second rotation gave generation %d, want 2", g)
	}
	s, _ := f.stores.Sessions.SessionByID(t.Context(), f.user.TenantID, t0.SessionID)
	if !s.LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("LastUsedAt = %v, want %v", s.LastUsedAt, f.clock.Now())
	}
	if f.events.Count(identity.EventTokenRefreshed) != 2 {
		t.Fatalf("%d refreshed events, want 2", f.events.Count(identity.EventTokenRefreshed))
	}
	for _, bad := range []string{"", "nope", t2.RefreshToken + "x", string(make([]byte, 200))} {
		if _, err := f.refresh(t, bad); !errors.Is(err, identity.ErrInvalidRefreshToken) {
			t.Fatalf("Refresh(%.10q) err = %v, want ErrInvalidRefreshToken", bad, err)
		}
	}
	// Expired.
	f.clock.Advance(identity.DefaultRefreshTTL + time.Second)
	if _, err := f.refresh(t, t2.RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("Refresh(expired) err = %v", err)
	}
}

func testReuse(t *testing.T, f *sessionFixture) {
	t0 := f.open(t)
	t1 := f.mustRefresh(t, t0.RefreshToken)
	f.clock.Advance(identity.DefaultRefreshGrace + time.Second)
	t2 := f.mustRefresh(t, t1.RefreshToken)
	// t0 was spent more than the grace window ago: reuse ends the family.
	if _, err := f.refresh(t, t0.RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("reuse err = %v, want ErrInvalidRefreshToken", err)
	}
	if f.live(t, t0.SessionID) {
		t.Fatal("reuse did not end the session")
	}
	if _, err := f.refresh(t, t2.RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("the family's newest token after reuse err = %v, want ErrInvalidRefreshToken", err)
	}
	if f.events.Count(identity.EventTokenReuse) != 1 {
		t.Fatalf("%d reuse events, want 1", f.events.Count(identity.EventTokenReuse))
	}
	// Another session of the same user is untouched.
	o := f.open(t)
	f.mustRefresh(t, o.RefreshToken)
}

func testGrace(t *testing.T, f *sessionFixture) {
	t0 := f.open(t)
	a := f.mustRefresh(t, t0.RefreshToken)
	f.clock.Advance(identity.DefaultRefreshGrace - time.Second)
	b := f.mustRefresh(t, t0.RefreshToken) // a retry inside the window
	if b.SessionID != a.SessionID || b.RefreshToken == a.RefreshToken || f.generation(t, b.RefreshToken) != 1 {
		t.Fatal("a retry inside the grace window did not get another generation-1 pair of the family")
	}
	if !f.live(t, t0.SessionID) || f.events.Count(identity.EventTokenReuse) != 0 {
		t.Fatal("a retry inside the grace window revoked the family")
	}
	// Using a spends generation 1; b, of the same generation, is then spent too.
	c := f.mustRefresh(t, a.RefreshToken)
	f.clock.Advance(identity.DefaultRefreshGrace + time.Second)
	if _, err := f.refresh(t, b.RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("a sibling of a spent generation after the window err = %v", err)
	}
	if f.live(t, t0.SessionID) {
		t.Fatal("reuse of a sibling did not end the family")
	}
	if _, err := f.refresh(t, c.RefreshToken); err == nil {
		t.Fatal("the family's newest token works after reuse")
	}
}

func testConcurrentRefresh(t *testing.T, f *sessionFixture) {
	const n = 10
	t0 := f.open(t)
	got := make([]identity.Tokens, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = f.svc.Refresh(context.Background(), identity.RefreshInput{RefreshToken: t0.RefreshToken})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racing refresh %d: %v", i, errs[i])
		}
		if got[i].SessionID != t0.SessionID || f.generation(t, got[i].RefreshToken) != 1 {
			t.Fatalf("racing refresh %d: session %s generation %d; want %s, 1", i, got[i].SessionID,
				f.generation(t, got[i].RefreshToken), t0.SessionID)
		}
		if _, err := f.ver.Verify(t.Context(), got[i].AccessToken); err != nil {
			t.Fatalf("racing refresh %d: access token: %v", i, err)
		}
	}
	if !f.live(t, t0.SessionID) || f.events.Count(identity.EventTokenReuse) != 0 {
		t.Fatal("racing refreshes of one token revoked the family")
	}
	// One generation is live: the first use of any of the ten spends generation 1 for all.
	f.mustRefresh(t, got[3].RefreshToken)
	f.clock.Advance(identity.DefaultRefreshGrace + time.Second)
	if _, err := f.refresh(t, got[7].RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("a second generation-1 token after the window err = %v, want reuse", err)
	}
}

func testLogoutAndEnd(t *testing.T, f *sessionFixture) {
	ctx := t.Context()
	s1, s2, s3 := f.open(t), f.open(t), f.open(t)
	caller := identity.Caller{TenantID: f.user.TenantID, UserID: f.user.ID, SessionID: s2.SessionID}
	l, err := f.svc.List(ctx, caller)
	if err != nil || len(l) != 3 {
		t.Fatalf("List = %d, %v; want 3", len(l), err)
	}

	stranger := newUser(f.user.TenantID, "bob@example.com")
	if err := f.stores.Users.CreateUser(ctx, stranger); err != nil {
		t.Fatal(err)
	}
	sb, err := f.svc.Open(ctx, stranger, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.End(ctx, caller, sb.SessionID); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("End(another user's session) err = %v, want ErrSessionNotFound", err)
	}
	if err := f.svc.End(ctx, caller, "not-an-id"); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("End(malformed) err = %v", err)
	}
	if err := f.svc.End(ctx, caller, s1.SessionID); err != nil {
		t.Fatalf("End: %v", err)
	}
	if err := f.svc.End(ctx, caller, s1.SessionID); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Fatalf("End(ended) err = %v", err)
	}
	if _, err := f.refresh(t, s1.RefreshToken); !errors.Is(err, identity.ErrInvalidRefreshToken) {
		t.Fatalf("Refresh of an ended session err = %v", err)
	}
	if err := f.svc.Logout(ctx, caller); err != nil {
		t.Fatal(err)
	}
	if f.live(t, s2.SessionID) || !f.live(t, s3.SessionID) {
		t.Fatal("Logout did not end exactly the current session")
	}
	if n, err := f.svc.LogoutAll(ctx, caller); n != 1 || err != nil {
		t.Fatalf("LogoutAll = %d, %v; want 1", n, err)
	}
	if l, _ := f.svc.List(ctx, caller); len(l) != 0 {
		t.Fatalf("List after LogoutAll = %d sessions", len(l))
	}
	if !f.live(t, sb.SessionID) {
		t.Fatal("LogoutAll ended another user's session")
	}
	for kind, want := range map[string]int{identity.EventSessionEnded: 1, identity.EventLogout: 1, identity.EventLogoutAll: 1} {
		if got := f.events.Count(kind); got != want {
			t.Errorf("%d %s events, want %d", got, kind, want)
		}
	}
}
