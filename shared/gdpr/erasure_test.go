package gdpr_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
	"caas.dev/shared/media"
	"caas.dev/shared/mongo"
	"caas.dev/shared/mongo/mongotest"
	"caas.dev/shared/s3"
)

// erasureFixture is an Eraser on real Mongo, S3, key service and audit trail, with users ann,
// bob (users) and ada (admin) in ten_a and carl in ten_b.
type erasureFixture struct {
	e                *gdpr.Eraser
	db               *mongo.Client
	ks               *keys.Service
	trail            *audit.Service
	objects          *s3.Store
	prefix           string
	ann, bob, admin  edge.Identity
	carl             edge.Identity
	apiKey, otherKey edge.Identity
}

func newErasureFixture(t *testing.T) *erasureFixture {
	t.Helper()
	ctx := t.Context()
	db := mongotest.Open(t)
	ks := mongotest.Keys(t, db)
	trail, err := audit.New(audit.Config{Store: db.Audit(), Secrets: ks, Clock: clock.System{}})
	if err != nil {
		t.Fatal(err)
	}
	objects, err := s3.Open(ctx, backendtest.S3Config(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := objects.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	// The export prefix is per test, so that tests sharing the bucket never meet.
	prefix := backendtest.Prefix(t) + "/exports/"
	svc := &gdpr.Service{Consents: mongo.NewConsentStore(db), Users: db.Users(), Profiles: db.Users(),
		Keys: mongo.NewIdempotencyKeys(db), Clock: clock.System{}, IDs: ids.Random{}}
	f := &erasureFixture{db: db, ks: ks, trail: trail, objects: objects, prefix: prefix,
		e: &gdpr.Eraser{GDPR: svc, Store: mongo.NewErasureStore(db), Data: mongo.NewErasureStore(db),
			Keys: ks, Objects: objects, ExportPrefix: prefix, Audit: trail,
			Media: mongo.NewMediaStore(db), MediaObjects: objects, Holds: db.Retention()}}
	mk := func(tenantID, name, role string) edge.Identity {
		u := identity.User{ID: ids.Random{}.New(ids.User), TenantID: tenantID, Email: name + "@example.com",
			DisplayName: name, PasswordHash: "argon2id$secret", Role: role, CreatedAt: time.Now()}
		if err := db.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return edge.Identity{TenantID: tenantID, UserID: u.ID, Role: role, Actor: edge.ActorUser}
	}
	f.ann = mk("ten_a", "ann", identity.RoleUser)
	f.bob = mk("ten_a", "bob", identity.RoleUser)
	f.admin = mk("ten_a", "ada", identity.RoleAdmin)
	f.carl = mk("ten_b", "carl", identity.RoleUser)
	f.apiKey = edge.Identity{TenantID: "ten_a", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	f.otherKey = edge.Identity{TenantID: "ten_b", Role: identity.RoleAdmin, Actor: edge.ActorAPIKey}
	return f
}

// login gives the user a session with a refresh token, an MFA factor with recovery codes and
// an export archive, and returns the session id and refresh token hash.
func (f *erasureFixture) login(t *testing.T, u edge.Identity) (string, string) {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	sid, hash := ids.Random{}.New(ids.Session), ids.Random{}.New("rth")
	if err := f.db.Sessions().CreateSession(ctx, identity.Session{ID: sid, TenantID: u.TenantID, UserID: u.UserID,
		RefreshHash: hash, CreatedAt: now, LastUsedAt: now, IP: "192.0.2.7", UserAgent: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.Sessions().AddRefreshToken(ctx, identity.RefreshToken{Hash: hash, TenantID: u.TenantID,
		UserID: u.UserID, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := f.db.MFA().Enable(ctx, identity.MFAFactor{TenantID: u.TenantID, UserID: u.UserID,
		SealedSecret: "sealed-seed", CreatedAt: now}, []string{ids.Random{}.New("rc"), ids.Random{}.New("rc")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("archive of " + u.UserID)
	key := f.prefix + u.TenantID + "/" + u.UserID + "/" + ids.Random{}.New(ids.Export) + ".zip"
	if err := f.objects.Put(ctx, key, bytes.NewReader(body), int64(len(body)), "application/zip"); err != nil {
		t.Fatal(err)
	}
	f.attach(t, u)
	return sid, hash
}

// attach stores a ready media uploaded by the user, its object under the test's prefix.
func (f *erasureFixture) attach(t *testing.T, u edge.Identity) media.Media {
	t.Helper()
	m := media.Media{ID: ids.Random{}.New(ids.Media), TenantID: u.TenantID, ConversationID: ids.Random{}.New(ids.Conversation),
		UploaderID: u.UserID, Filename: "f.txt", ContentType: "text/plain", Size: 3, Status: media.StatusReady, CreatedAt: time.Now()}
	m.ObjectKey = f.prefix + "media/" + u.UserID + "/" + m.ID
	if err := f.objects.Put(t.Context(), m.ObjectKey, bytes.NewReader([]byte("abc")), 3, "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mongo.NewMediaStore(f.db).InsertMedia(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// mediaLeft returns how many media documents and media objects of the user remain.
func (f *erasureFixture) mediaLeft(t *testing.T, u edge.Identity) (docs, objects int) {
	t.Helper()
	ms, err := mongo.NewMediaStore(f.db).MediaOfUploader(t.Context(), u.TenantID, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := f.objects.List(t.Context(), f.prefix+"media/"+u.UserID+"/")
	if err != nil {
		t.Fatal(err)
	}
	return len(ms), len(objs)
}

func (f *erasureFixture) objectCount(t *testing.T, u edge.Identity) int {
	t.Helper()
	objs, err := f.objects.List(t.Context(), f.prefix+u.TenantID+"/"+u.UserID+"/")
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// An admin's erasure ends the user's sessions, deletes the profile (freeing the email), MFA
// secrets and export archives, shreds the key, unlinks the audit pseudonym and leaves a
// receipt; another user's data is untouched and the audit chain still verifies.
func TestEraseUser(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	annSession, annRefresh := f.login(t, f.ann)
	bobSession, _ := f.login(t, f.bob)
	sealed, err := f.ks.EncryptForUser(ctx, "ten_a", f.ann.UserID, []byte("ann's secret"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	annPseudonym, err := f.trail.Pseudonym(ctx, "ten_a", f.ann.UserID)
	if err != nil {
		t.Fatal(err)
	}

	er, created, err := f.e.Erase(ctx, f.admin, f.ann.UserID, idempotency.Request{})
	if err != nil || !created {
		t.Fatalf("erase = %v, %v; want created", created, err)
	}
	if !ids.Valid(ids.Erasure, er.ID) || er.TenantID != "ten_a" || er.UserID != f.ann.UserID ||
		er.RequestedBy != f.admin.UserID || er.Status != gdpr.ErasureCompleted || er.CompletedAt.IsZero() ||
		er.Pseudonym != gdpr.OutcomeUnlinked {
		t.Fatalf("receipt %+v", er)
	}
	want := map[string]struct {
		count   int64
		outcome string
	}{
		gdpr.StepSessions: {1, gdpr.OutcomeEnded}, gdpr.StepRefreshTokens: {1, gdpr.OutcomeDeleted},
		gdpr.StepMFA: {3, gdpr.OutcomeDeleted}, gdpr.StepProfile: {1, gdpr.OutcomeDeleted},
		gdpr.StepKey: {1, gdpr.OutcomeShredded}, gdpr.StepExportArchives: {1, gdpr.OutcomeDeleted},
		gdpr.StepExportJobs: {0, gdpr.OutcomeDeleted}, gdpr.StepMedia: {1, gdpr.OutcomeDeleted},
		gdpr.StepSearch: {0, gdpr.OutcomeNone}, gdpr.StepConsents: {0, gdpr.OutcomeKept},
		gdpr.StepAuditRecord: {1, gdpr.OutcomeAppended},
	}
	for _, name := range gdpr.ErasureSteps {
		s, ok := er.Steps[name]
		if !ok {
			t.Errorf("step %s missing from the receipt", name)
			continue
		}
		if w, ok := want[name]; ok && (s.Count != w.count || s.Outcome != w.outcome) {
			t.Errorf("step %s = %d %q, want %d %q", name, s.Count, s.Outcome, w.count, w.outcome)
		}
	}
	if s := er.Steps[gdpr.StepAuditPseudonym]; s.Count < 1 || s.Outcome != gdpr.OutcomeUnlinked {
		t.Errorf("audit pseudonym step = %+v", s)
	}

	// The profile is gone and its email free again.
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.ann.UserID); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("user after erasure: %v", err)
	}
	if err := f.db.Users().CreateUser(ctx, identity.User{ID: ids.Random{}.New(ids.User), TenantID: "ten_a",
		Email: "ann@example.com", DisplayName: "new ann", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
		t.Errorf("register the erased user's email again: %v", err)
	}
	// Sessions, refresh tokens and MFA secrets are gone.
	if _, err := f.db.Sessions().SessionByID(ctx, "ten_a", annSession); !errors.Is(err, identity.ErrSessionNotFound) {
		t.Errorf("session after erasure: %v", err)
	}
	if _, err := f.db.Sessions().RefreshTokenByHash(ctx, annRefresh); !errors.Is(err, identity.ErrRefreshTokenNotFound) {
		t.Errorf("refresh token after erasure: %v", err)
	}
	if _, err := f.db.MFA().Factor(ctx, "ten_a", f.ann.UserID); !errors.Is(err, identity.ErrMFANotEnabled) {
		t.Errorf("mfa factor after erasure: %v", err)
	}
	if n := f.objectCount(t, f.ann); n != 0 {
		t.Errorf("%d export archives left", n)
	}
	// The key is shredded.
	if _, err := f.ks.Decrypt(ctx, "ten_a", sealed, []byte("ctx")); !errors.Is(err, keys.ErrKeyShredded) {
		t.Errorf("decrypt under the erased user's key: %v", err)
	}
	// The pseudonym names no one; the chain holds the erasure record and verifies.
	if _, err := f.trail.ResolvePseudonym(ctx, "ten_a", annPseudonym); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("resolve the erased user's pseudonym: %v", err)
	}
	// Records about ann appended later (her requests still on the audit topic) name her by a
	// fresh pseudonym each, never the old one, and store no link again.
	if p, err := f.trail.Pseudonym(ctx, "ten_a", f.ann.UserID); err != nil || p == annPseudonym || !strings.HasPrefix(p, audit.PseudonymPrefix) {
		t.Errorf("pseudonym after erasure = %q, %v; want a fresh one, not %q", p, err, annPseudonym)
	}
	if _, err := f.trail.ResolvePseudonym(ctx, "ten_a", annPseudonym); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("resolve the erased user's pseudonym after a later record: %v", err)
	}
	if p, err := f.trail.Pseudonym(ctx, "ten_a", f.bob.UserID); err != nil {
		t.Fatal(err)
	} else if u, err := f.trail.ResolvePseudonym(ctx, "ten_a", p); err != nil || u != f.bob.UserID {
		t.Errorf("bob's pseudonym resolves to %q, %v", u, err)
	}
	recs, _, err := f.trail.Query(ctx, "ten_a", audit.Filter{Action: gdpr.ErasureAction}, "", 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("erasure records: %d, %v", len(recs), err)
	}
	if r := recs[0]; r.Resource != "erasure:"+er.ID || r.Actor.Type != audit.ActorUser || r.Details["subject"] != "user:"+annPseudonym {
		t.Errorf("erasure record %+v", r.Input)
	}
	if v, err := f.trail.Verify(ctx, "ten_a", 1, 0); err != nil || !v.Valid {
		t.Errorf("verify after erasure: %+v, %v", v, err)
	}

	// Bob keeps everything.
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.bob.UserID); err != nil {
		t.Errorf("bob after ann's erasure: %v", err)
	}
	if s, err := f.db.Sessions().SessionByID(ctx, "ten_a", bobSession); err != nil || s.RevokedAt != nil {
		t.Errorf("bob's session after ann's erasure: %+v, %v", s, err)
	}
	if n := f.objectCount(t, f.bob); n != 1 {
		t.Errorf("bob has %d export archives, want 1", n)
	}
	if docs, objs := f.mediaLeft(t, f.ann); docs != 0 || objs != 0 {
		t.Errorf("ann's media after erasure: %d documents, %d objects", docs, objs)
	}
	if docs, objs := f.mediaLeft(t, f.bob); docs != 1 || objs != 1 {
		t.Errorf("bob's media after ann's erasure: %d documents, %d objects, want 1 and 1", docs, objs)
	}

	// A repeat answers the same receipt; so does a read.
	again, created, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{})
	if err != nil || created || again.ID != er.ID {
		t.Errorf("repeat = %s, %v, %v; want %s, not created", again.ID, created, err, er.ID)
	}
	got, err := f.e.Erasure(ctx, f.apiKey, er.ID)
	if err != nil || got.ID != er.ID || len(got.Steps) != len(gdpr.ErasureSteps) {
		t.Errorf("read receipt = %+v, %v", got, err)
	}
	if recs, _, _ := f.trail.Query(ctx, "ten_a", audit.Filter{Action: gdpr.ErasureAction}, "", 10); len(recs) != 1 {
		t.Errorf("%d erasure records after the repeat, want 1", len(recs))
	}
}

// Who may erase: the user themselves, an admin of the tenant; never another user, never
// across tenants; unknown users are not found.
func TestEraseWhoMayAsk(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	if _, _, err := f.e.Erase(ctx, f.bob, f.ann.UserID, idempotency.Request{}); !errors.Is(err, identity.ErrAdminRequired) {
		t.Errorf("a user erasing another: %v, want admin_required", err)
	}
	if _, _, err := f.e.Erase(ctx, f.otherKey, f.ann.UserID, idempotency.Request{}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("another tenant's admin: %v, want user not found", err)
	}
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.carl.UserID, idempotency.Request{}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("a user of another tenant: %v, want user not found", err)
	}
	if _, _, err := f.e.Erase(ctx, f.apiKey, ids.Random{}.New(ids.User), idempotency.Request{}); !errors.Is(err, identity.ErrUserNotFound) {
		t.Errorf("an unknown user: %v, want user not found", err)
	}
	if _, _, err := f.e.Erase(ctx, f.apiKey, "", idempotency.Request{}); err == nil {
		t.Error("the API key without user_id: no error")
	}
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.ann.UserID); err != nil {
		t.Fatalf("ann after refused erasures: %v", err)
	}

	// Ann erases herself (empty user_id means the caller); the last admin may be erased too.
	er, created, err := f.e.Erase(ctx, f.ann, "", idempotency.Request{})
	if err != nil || !created || er.UserID != f.ann.UserID || er.RequestedBy != f.ann.UserID {
		t.Fatalf("self erasure = %+v, %v, %v", er, created, err)
	}
	if _, created, err := f.e.Erase(ctx, f.admin, f.admin.UserID, idempotency.Request{}); err != nil || !created {
		t.Fatalf("the last admin erasing themselves = %v, %v", created, err)
	}

	// Reading a receipt: admins of the tenant only.
	if _, err := f.e.Erasure(ctx, f.bob, er.ID); !errors.Is(err, identity.ErrAdminRequired) {
		t.Errorf("another user reads the receipt: %v", err)
	}
	if _, err := f.e.Erasure(ctx, f.otherKey, er.ID); !errors.Is(err, gdpr.ErrErasureNotFound) {
		t.Errorf("another tenant reads the receipt: %v", err)
	}
	if _, err := f.e.Erasure(ctx, f.apiKey, "era_nope"); !errors.Is(err, gdpr.ErrErasureNotFound) {
		t.Errorf("unknown receipt: %v", err)
	}
}

// A run that stopped halfway (receipt claimed, some steps done) is finished by the next
// request, under the same receipt; an Idempotency-Key reused for another user conflicts.
func TestEraseResumesAndHonoursIdempotencyKeys(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	f.login(t, f.ann)
	store := mongo.NewErasureStore(f.db)
	claimed, created, err := store.ClaimErasure(ctx, gdpr.Erasure{ID: ids.Random{}.New(ids.Erasure), TenantID: "ten_a",
		UserID: f.ann.UserID, RequestedBy: edge.ActorAPIKey, RequestedAt: time.Now()})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if err := store.RecordStep(ctx, "ten_a", claimed.ID, gdpr.ErasureStep{Name: gdpr.StepSessions, Count: 7,
		Outcome: gdpr.OutcomeEnded, At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	key := idempotency.Request{Key: "erase-ann-1", RequestSHA256: "aa"}
	er, created, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, key)
	if err != nil || !created || er.ID != claimed.ID || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("resume = %+v, %v, %v; want %s completed", er, created, err, claimed.ID)
	}
	if s := er.Steps[gdpr.StepSessions]; s.Count != 7 {
		t.Errorf("a step done before was run again: %+v", s)
	}
	if s := er.Steps[gdpr.StepProfile]; s.Count != 1 {
		t.Errorf("profile step %+v", s)
	}
	if n := f.objectCount(t, f.ann); n != 0 {
		t.Errorf("%d export archives left", n)
	}

	bobKey := idempotency.Request{Key: "erase-bob-1", RequestSHA256: "bb"}
	first, _, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, bobKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.admin.UserID, idempotency.Request{Key: "erase-bob-1", RequestSHA256: "cc"}); !errors.Is(err, idempotency.ErrConflict) {
		t.Errorf("key reused for another user: %v, want conflict", err)
	}
	again, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, bobKey)
	if err != nil || created || again.ID != first.ID {
		t.Errorf("replay = %s, %v, %v; want %s", again.ID, created, err, first.ID)
	}
}
