package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

var day = 24 * time.Hour

func TestPlanRotation(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := RotationPolicy{Rotation: 30 * day, TokenTTL: 15 * time.Minute}
	k := func(id string, gen int, created time.Time) PublicKey {
		return PublicKey{ID: id, Generation: gen, Status: KeyActive, CreatedAt: created}
	}
	wait := p.retireAfterSuccessor()
	cases := []struct {
		name   string
		keys   []PublicKey
		now    time.Time
		add    bool
		retire []string
	}{
		{"no key", nil, t0, true, nil},
		{"only retired keys", []PublicKey{{ID: "a", Generation: 1, Status: KeyRetired, CreatedAt: t0}}, t0, true, nil},
		{"fresh key", []PublicKey{k("a", 1, t0)}, t0.Add(29 * day), false, nil},
		{"key due", []PublicKey{k("a", 1, t0)}, t0.Add(30 * day), true, nil},
		{"newest never retired", []PublicKey{k("a", 1, t0)}, t0.Add(400 * day), true, nil},
		{"previous kept while its tokens may live", []PublicKey{k("a", 1, t0), k("b", 2, t0.Add(30*day))},
			t0.Add(30*day + wait - time.Second), false, nil},
		{"previous retired after rotation+ttl and successor wait", []PublicKey{k("a", 1, t0), k("b", 2, t0.Add(30*day))},
			t0.Add(30*day + wait), false, []string{"a"}},
		{"late successor protects the previous key", []PublicKey{k("a", 1, t0), k("b", 2, t0.Add(40*day))},
			t0.Add(40 * day), false, nil},
		{"two old generations", []PublicKey{k("c", 3, t0.Add(60*day)), k("a", 1, t0), k("b", 2, t0.Add(30*day))},
			t0.Add(61 * day), false, []string{"a", "b"}},
		{"short rotation still waits for the token ttl",
			[]PublicKey{k("a", 1, t0), k("b", 2, t0.Add(time.Hour))}, t0.Add(time.Hour + 10*time.Minute), false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := planRotation(c.keys, c.now, p)
			slices.Sort(pl.retire)
			if pl.add != c.add || !slices.Equal(pl.retire, c.retire) {
				t.Fatalf("plan = %+v, want add=%v retire=%v", pl, c.add, c.retire)
			}
		})
	}
	// Short rotation: once both Rotation+TTL and the successor wait have passed, the key goes.
	short := RotationPolicy{Rotation: time.Hour, TokenTTL: 15 * time.Minute}
	keys := []PublicKey{k("a", 1, t0), k("b", 2, t0.Add(time.Hour))}
	if pl := planRotation(keys, t0.Add(time.Hour+short.retireAfterSuccessor()), short); !slices.Equal(pl.retire, []string{"a"}) {
		t.Fatalf("short rotation plan %+v", pl)
	}
}

func TestRotationPolicyFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "CAAS_SIGNING_KEY_ROTATION" {
				return v
			}
			return ""
		}
	}
	for in, want := range map[string]time.Duration{"": 30 * day, "7d": 7 * day, "720h": 720 * time.Hour, "1h": time.Hour} {
		p, err := RotationPolicyFromEnv(env(in), time.Minute)
		if err != nil || p.Rotation != want || p.TokenTTL != time.Minute {
			t.Errorf("%q: %+v %v, want %v", in, p, err, want)
		}
	}
	for _, in := range []string{"0", "59m", "366d", "-1d", "xd", "soon"} {
		if _, err := RotationPolicyFromEnv(env(in), time.Minute); err == nil {
			t.Errorf("%q was accepted", in)
		}
	}
}

// rotKeys is an in-memory KeyRotationStore with the unique id and generation of the real one.
type rotKeys struct {
	mu   sync.Mutex
	keys []SigningKey
}

func (s *rotKeys) InsertSigningKey(_ context.Context, k SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.keys {
		if o.ID == k.ID || o.Generation == k.Generation {
			return ErrKeyExists
		}
	}
	s.keys = append(s.keys, k)
	return nil
}

func (s *rotKeys) ActiveSigningKey(context.Context) (SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *SigningKey
	for i, k := range s.keys {
		if k.Status == KeyActive && (best == nil || k.Generation > best.Generation) {
			best = &s.keys[i]
		}
	}
	if best == nil {
		return SigningKey{}, ErrNoActiveKey
	}
	return *best, nil
}

func (s *rotKeys) SigningKeyByID(_ context.Context, id string) (SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.ID == id {
			return k, nil
		}
	}
	return SigningKey{}, ErrKeyNotFound
}

func (s *rotKeys) PublicKeys(context.Context) ([]PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PublicKey
	for _, k := range s.keys {
		if k.Status == KeyActive {
			out = append(out, PublicKey{ID: k.ID, Generation: k.Generation, Key: &k.Private.PublicKey, Status: k.Status, CreatedAt: k.CreatedAt})
		}
	}
	return out, nil
}

func (s *rotKeys) RetireSigningKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.keys {
		if s.keys[i].ID == id {
			s.keys[i].Status = KeyRetired
		}
	}
	return nil
}

// recorder is an EventSink that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Record(_ context.Context, e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func TestKeyRotatorLifecycle(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewFixed(t0)
	store := &rotKeys{}
	first, err := EnsureSigningKey(t.Context(), store, clk, ids.Random{})
	if err != nil {
		t.Fatal(err)
	}
	events := &recorder{}
	policy := RotationPolicy{Rotation: 30 * day, TokenTTL: 15 * time.Minute}
	r := &KeyRotator{Store: store, Policy: policy, Clock: clk, IDs: ids.Random{}, Events: events}

	// A token signed by the first key, verified through a KeySet like the authorizer's.
	iss := &Issuer{Config: tokenCfg, Clock: clk, IDs: ids.Random{}}
	keySet := &KeySet{Store: store, Clock: clk}
	ver := &Verifier{Config: tokenCfg, Keys: keySet, Clock: clk}

	res, err := r.Rotate(t.Context())
	if err != nil || res.Added || len(res.Retired) != 0 || res.ActiveKeyID != first.ID || len(events.events) != 0 {
		t.Fatalf("day 0: %+v %v events %v", res, err, events.events)
	}

	clk.Advance(30 * day)
	cache := &ActiveKeyCache{Store: store, Clock: clk}
	if k, _ := cache.Get(t.Context()); k.ID != first.ID {
		t.Fatalf("the cache did not load the first key")
	}
	res, err = r.Rotate(t.Context())
	if err != nil || !res.Added || res.ActiveKeyID == first.ID || len(res.Retired) != 0 {
		t.Fatalf("day 30: %+v %v", res, err)
	}
	if len(events.events) != 1 || events.events[0].Kind != EventSigningKeyAdded || !events.events[0].At.Equal(clk.Now()) {
		t.Fatalf("events %+v", events.events)
	}
	second := res.ActiveKeyID
	// A second run the same day adds nothing.
	if res, err := r.Rotate(t.Context()); err != nil || res.Added || res.ActiveKeyID != second {
		t.Fatalf("second run: %+v %v", res, err)
	}
	// Login instances switch to the new key once it has been published for KeyPublishLead,
	// within DefaultActiveKeyMaxAge of that.
	if k, _ := cache.Get(t.Context()); k.ID != first.ID {
		t.Fatal("the active key cache reloaded before its max age")
	}
	clk.Advance(DefaultActiveKeyMaxAge)
	if k, _ := cache.Get(t.Context()); k.ID != first.ID {
		t.Fatalf("the new key signs before its publish lead: %s", k.ID)
	}
	clk.Advance(KeyPublishLead)
	if k, _ := cache.Get(t.Context()); k.ID != second {
		t.Fatalf("the active key cache still signs with %s after the publish lead", k.ID)
	}

	// The last token of the first key, issued just before the cache switched, still verifies.
	oldTok, _, err := iss.Issue(first, tenantID, userID, sessionID, RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ver.Verify(t.Context(), oldTok); err != nil {
		t.Fatalf("a token of the previous key is refused: %v", err)
	}
	// The first key is retired once its tokens have expired...
	clk.Advance(policy.TokenTTL + clockSkew)
	res, err = r.Rotate(t.Context())
	if err != nil || !slices.Equal(res.Retired, []string{first.ID}) {
		t.Fatalf("retire: %+v %v", res, err)
	}
	// ...and a token it signed is refused once the KeySet reloads (its cache is bounded), even
	// one forged with a valid lifetime by someone holding the retired key.
	clk.Advance(DefaultKeySetMaxAge)
	forged, _, err := iss.Issue(first, tenantID, userID, sessionID, RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ver.Verify(t.Context(), forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of a retired key: err = %v, want ErrInvalidToken", err)
	}
	newTok, _, _ := iss.Issue(SigningKey{ID: second, Private: mustActive(t, store).Private}, tenantID, userID, sessionID, RoleUser)
	if _, err := ver.Verify(t.Context(), newTok); err != nil {
		t.Fatalf("a token of the active key is refused: %v", err)
	}
	pubs, _ := store.PublicKeys(t.Context())
	if len(pubs) != 1 || pubs[0].ID != second {
		t.Fatalf("published keys %+v", pubs)
	}
}

func mustActive(t *testing.T, s KeyStore) SigningKey {
	t.Helper()
	k, err := s.ActiveSigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeySetMaxAge(t *testing.T) {
	clk := clock.NewFixed(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	store := &rotKeys{keys: []SigningKey{{ID: "key_a", Generation: 1, Private: priv, Status: KeyActive, CreatedAt: clk.Now()}}}
	ks := &KeySet{Store: store, Clock: clk, MaxAge: time.Minute}
	if _, err := ks.Lookup(t.Context(), "key_a"); err != nil {
		t.Fatal(err)
	}
	_ = store.RetireSigningKey(t.Context(), "key_a")
	if _, err := ks.Lookup(t.Context(), "key_a"); err != nil {
		t.Fatalf("within MaxAge the cached key should still answer: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := ks.Lookup(t.Context(), "key_a"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("a retired key still verifies after MaxAge: %v", err)
	}
}

// A new key is published at once but signs only after KeyPublishLead, so no verifier that
// caches the key set meets its kid unannounced; a platform's first key signs at once.
func TestActiveKeyCachePublishLead(t *testing.T) {
	clk := clock.NewFixed(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	store := &rotKeys{keys: []SigningKey{{ID: "key_a", Generation: 1, Private: priv, Status: KeyActive, CreatedAt: clk.Now()}}}
	cache := &ActiveKeyCache{Store: store, Clock: clk}
	if k, err := cache.Get(t.Context()); err != nil || k.ID != "key_a" {
		t.Fatalf("the only key, just made: %s %v, want key_a", k.ID, err)
	}

	clk.Advance(30 * 24 * time.Hour)
	store.keys = append(store.keys, SigningKey{ID: "key_b", Generation: 2, Private: priv, Status: KeyActive, CreatedAt: clk.Now()})
	clk.Advance(DefaultActiveKeyMaxAge)
	if k, err := cache.Get(t.Context()); err != nil || k.ID != "key_a" {
		t.Fatalf("a key added %s ago signs: got %s %v, want key_a", DefaultActiveKeyMaxAge, k.ID, err)
	}
	pubs, _ := store.PublicKeys(t.Context())
	if len(pubs) != 2 {
		t.Fatalf("the new key is not published at once: %+v", pubs)
	}

	clk.Advance(KeyPublishLead)
	if k, err := cache.Get(t.Context()); err != nil || k.ID != "key_b" {
		t.Fatalf("after the publish lead: got %s %v, want key_b", k.ID, err)
	}
}
