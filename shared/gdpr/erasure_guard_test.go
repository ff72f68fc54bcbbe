package gdpr_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
)

// placeHold stores a legal hold on a user or a conversation and returns its id.
func (f *erasureFixture) placeHold(t *testing.T, tenantID, userID, conversationID string) string {
	t.Helper()
	id := ids.Random{}.New(ids.LegalHold)
	if err := f.db.Retention().InsertHold(t.Context(), retention.Hold{ID: id, TenantID: tenantID, UserID: userID,
		ConversationID: conversationID, Reason: "litigation 17", CreatedAt: time.Now().UTC(), CreatedBy: "api_key"}); err != nil {
		t.Fatal(err)
	}
	return id
}

// consent records a granted consent for the user.
func (f *erasureFixture) consent(t *testing.T, u edge.Identity) {
	t.Helper()
	granted := true
	if _, _, err := f.e.GDPR.RecordConsent(t.Context(), u, gdpr.NewConsent{Purpose: "marketing", PolicyVersion: "v1",
		Granted: &granted}, idempotency.Request{}); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) *fault.Error {
	t.Helper()
	fe := fault.As(err)
	if fe == nil || fe.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return fe
}

// A user under a legal hold, or in a conversation under one, is not erased: nothing of theirs
// is deleted and their key still opens their data. Once the holds are released, they are.
func TestEraseRefusedUnderLegalHold(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	f.login(t, f.bob)
	f.login(t, f.ann)
	sealed, err := f.ks.EncryptForUser(ctx, "ten_a", f.bob.UserID, []byte("bob's secret"), []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	userHold := f.placeHold(t, "ten_a", f.bob.UserID, "")
	// A hold on the same user id in another tenant does not hold ann's erasure back, nor bob's in ten_a.
	f.placeHold(t, "ten_b", f.ann.UserID, "")

	_, _, err = f.e.Erase(ctx, f.apiKey, f.bob.UserID, idempotency.Request{})
	fe := wantCode(t, err, "legal_hold")
	if fe.Detail != gdpr.ErrUserHold.Detail {
		t.Fatalf("detail %q", fe.Detail)
	}
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.bob.UserID); err != nil {
		t.Fatalf("profile of a held user: %v", err)
	}
	if plain, err := f.ks.Decrypt(ctx, "ten_a", sealed, []byte("ctx")); err != nil || string(plain) != "bob's secret" {
		t.Fatalf("key of a held user: %q %v", plain, err)
	}
	if f.objectCount(t, f.bob) != 1 {
		t.Fatal("export archive of a held user deleted")
	}
	if _, err := f.e.Store.ErasureOfUser(ctx, "ten_a", f.bob.UserID); !errors.Is(err, gdpr.ErrErasureNotFound) {
		t.Fatalf("receipt of a refused erasure: %v", err)
	}
	if err := f.db.Retention().DeleteHold(ctx, "ten_a", userHold); err != nil {
		t.Fatal(err)
	}

	// Bob is a member of a conversation under hold.
	conv := chat.Conversation{ID: ids.Random{}.New(ids.Conversation), TenantID: "ten_a", Type: chat.TypeGroup,
		Title: "deal", Members: []string{f.bob.UserID, f.admin.UserID}, CreatedBy: f.admin.UserID, CreatedAt: time.Now().UTC()}
	if _, _, err := mongo.NewChatStore(f.db).CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	convHold := f.placeHold(t, "ten_a", "", conv.ID)
	_, _, err = f.e.Erase(ctx, f.bob, "", idempotency.Request{})
	fe = wantCode(t, err, "legal_hold")
	if fe.Detail != gdpr.ErrConversationHold.Detail {
		t.Fatalf("detail %q", fe.Detail)
	}
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.bob.UserID); err != nil {
		t.Fatalf("profile of a member of a held conversation: %v", err)
	}
	// Ann is in no held conversation and under no hold of her tenant.
	if _, created, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{}); err != nil || !created {
		t.Fatalf("erase ann: %v %v", created, err)
	}

	if err := f.db.Retention().DeleteHold(ctx, "ten_a", convHold); err != nil {
		t.Fatal(err)
	}
	er, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, idempotency.Request{})
	if err != nil || !created || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("erase after release: %+v %v %v", er, created, err)
	}
}

// Parallel requests for one user make one run: one answers created, the others either
// erasure_in_progress (with Retry-After) or the completed receipt; the receipt counts what was
// deleted, and a later repeat returns it unchanged.
func TestConcurrentErasuresRunOnce(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	f.login(t, f.ann)
	f.consent(t, f.ann)

	const n = 6
	type result struct {
		er      gdpr.Erasure
		created bool
		err     error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			er, created, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{})
			results[i] = result{er, created, err}
		}()
	}
	close(start)
	wg.Wait()

	createdCount := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			fe := wantCode(t, r.err, "erasure_in_progress")
			if fe.RetryAfter <= 0 {
				t.Fatalf("no Retry-After: %+v", fe)
			}
		case r.created:
			createdCount++
		case r.er.Status != gdpr.ErasureCompleted:
			t.Fatalf("a repeat returned an unfinished receipt: %+v", r.er)
		}
	}
	if createdCount != 1 {
		t.Fatalf("%d requests erased the user, want 1: %+v", createdCount, results)
	}

	er, created, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{})
	if err != nil || created || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("repeat: %+v %v %v", er, created, err)
	}
	want := map[string]int64{gdpr.StepSessions: 1, gdpr.StepRefreshTokens: 1, gdpr.StepProfile: 1,
		gdpr.StepKey: 1, gdpr.StepExportArchives: 1, gdpr.StepMedia: 1, gdpr.StepConsents: 1, gdpr.StepAuditRecord: 1}
	for step, count := range want {
		if got := er.Steps[step]; got.Count != count {
			t.Errorf("step %s: count %d, want %d (%+v)", step, got.Count, count, got)
		}
	}
	if len(er.Steps) != len(gdpr.ErasureSteps) {
		t.Errorf("steps %d, want %d", len(er.Steps), len(gdpr.ErasureSteps))
	}
	if got := er.Steps[gdpr.StepConsents].Outcome; got != gdpr.OutcomeKept {
		t.Errorf("consents outcome %q", got)
	}
}

// A run's claim blocks other requests while it is fresh, and is taken over once it is stale
// (its run died); a recorded step keeps its counts.
func TestErasureRunClaim(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	store := mongo.NewErasureStore(f.db)
	now := time.Now()

	if ok, err := store.ClaimRun(ctx, "ten_a", f.ann.UserID, "run_live", now, gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_, _, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{})
	wantCode(t, err, "erasure_in_progress")
	// Another user of the tenant, and the same user id in another tenant, are not blocked.
	if ok, err := store.ClaimRun(ctx, "ten_b", f.ann.UserID, "run_b", now, gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim in another tenant: %v %v", ok, err)
	}
	if err := store.ReleaseRun(ctx, "ten_a", f.ann.UserID, "run_other"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := store.ClaimRun(ctx, "ten_a", f.ann.UserID, "run_x", now, gdpr.ErasureRunStale); ok {
		t.Fatal("a release with another token ended the claim")
	}
	if err := store.ReleaseRun(ctx, "ten_a", f.ann.UserID, "run_live"); err != nil {
		t.Fatal(err)
	}

	// A claim of a run that died three minutes ago.
	if ok, err := store.ClaimRun(ctx, "ten_a", f.bob.UserID, "run_dead", now.Add(-3*time.Minute), gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	er, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, idempotency.Request{})
	if err != nil || !created || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("erase over a stale claim: %+v %v %v", er, created, err)
	}
	if er.Steps[gdpr.StepProfile].Count != 1 {
		t.Fatalf("profile count %+v", er.Steps[gdpr.StepProfile])
	}
	if err := store.RecordStep(ctx, "ten_a", er.ID, gdpr.ErasureStep{Name: gdpr.StepProfile, Count: 0,
		Outcome: gdpr.OutcomeDeleted, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	again, err := store.ErasureByID(ctx, "ten_a", er.ID)
	if err != nil || again.Steps[gdpr.StepProfile].Count != 1 {
		t.Fatalf("a recorded step was overwritten: %+v %v", again.Steps[gdpr.StepProfile], err)
	}
}

// The consents erasure keeps stay readable by the tenant's admins, and only by them.
func TestErasedUsersConsentsStayReadable(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	f.e.GDPR.Erased = mongo.NewErasureStore(f.db)
	f.consent(t, f.ann)
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []edge.Identity{f.apiKey, f.admin} {
		h, err := f.e.GDPR.ListConsents(ctx, who, f.ann.UserID, "", "", 10)
		if err != nil || len(h.Items) != 1 || h.Items[0].UserID != f.ann.UserID {
			t.Fatalf("%s reads erased user's consents: %+v %v", who.Actor, h, err)
		}
	}
	if _, err := f.e.GDPR.ListConsents(ctx, f.bob, f.ann.UserID, "", "", 10); !errors.Is(err, identity.ErrAdminRequired) {
		t.Fatalf("a user reads an erased user's consents: %v", err)
	}
	if _, err := f.e.GDPR.ListConsents(ctx, f.otherKey, f.ann.UserID, "", "", 10); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("another tenant reads an erased user's consents: %v", err)
	}
	never := ids.Random{}.New(ids.User)
	if _, err := f.e.GDPR.ListConsents(ctx, f.apiKey, never, "", "", 10); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}
