package gdpr_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
)

// holdService is the retention service of the fixture's database, wired to see erasures as
// in production.
func (f *erasureFixture) holdService(t *testing.T) *retention.Service {
	t.Helper()
	svc, err := retention.New(retention.Config{Store: f.db.Retention(), Erasures: mongo.NewErasureStore(f.db)})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// newUser stores another user of the tenant.
func (f *erasureFixture) newUser(t *testing.T, tenantID, name string) edge.Identity {
	t.Helper()
	u := identity.User{ID: ids.Random{}.New(ids.User), TenantID: tenantID, Email: name + "@example.com",
		DisplayName: name, PasswordHash: "argon2id$secret", Role: identity.RoleUser, CreatedAt: time.Now()}
	if err := f.db.Users().CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return edge.Identity{TenantID: tenantID, UserID: u.ID, Role: identity.RoleUser, Actor: edge.ActorUser}
}

// holdsOn returns the tenant's holds on the user or the conversation.
func (f *erasureFixture) holdsOn(t *testing.T, svc *retention.Service, tenantID, userID, conversationID string) int {
	t.Helper()
	hs, err := svc.Holds(t.Context(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, h := range hs {
		if (userID != "" && h.UserID == userID) || (conversationID != "" && h.ConversationID == conversationID) {
			n++
		}
	}
	return n
}

// An Idempotency-Key first answered with the repeat answer (user erased already) is bound to
// that request: reused for another user it conflicts and erases no one.
func TestErasureKeyBoundOnRepeatAnswer(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	if _, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, idempotency.Request{}); err != nil || !created {
		t.Fatalf("erase bob: %v %v", created, err)
	}
	key := idempotency.Request{Key: "erase-1", RequestSHA256: "bob"}
	er, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, key)
	if err != nil || created || er.Status != gdpr.ErasureCompleted {
		t.Fatalf("repeat for bob: %+v %v %v", er, created, err)
	}
	_, _, err = f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{Key: "erase-1", RequestSHA256: "ann"})
	if !errors.Is(err, idempotency.ErrConflict) {
		t.Fatalf("key reused for ann: %v, want idempotency_conflict", err)
	}
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.ann.UserID); err != nil {
		t.Fatalf("ann's profile after a conflicting key: %v", err)
	}
	if _, err := f.e.Store.ErasureOfUser(ctx, "ten_a", f.ann.UserID); !errors.Is(err, gdpr.ErrErasureNotFound) {
		t.Fatalf("ann has a receipt: %v", err)
	}
	again, created, err := f.e.Erase(ctx, f.apiKey, f.bob.UserID, key)
	if err != nil || created || again.ID != er.ID {
		t.Fatalf("replay = %+v %v %v; want %s", again, created, err, er.ID)
	}
	// A key first used for a refused request (legal hold) is bound as well.
	hold := f.placeHold(t, "ten_a", f.admin.UserID, "")
	held := idempotency.Request{Key: "erase-2", RequestSHA256: "ada"}
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.admin.UserID, held); !errors.Is(err, gdpr.ErrUserHold) {
		t.Fatalf("erase held ada: %v", err)
	}
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{Key: "erase-2", RequestSHA256: "ann"}); !errors.Is(err, idempotency.ErrConflict) {
		t.Fatalf("key of a refused request reused for ann: %v, want idempotency_conflict", err)
	}
	if err := f.db.Retention().DeleteHold(ctx, "ten_a", hold); err != nil {
		t.Fatal(err)
	}
	if _, created, err := f.e.Erase(ctx, f.apiKey, f.admin.UserID, held); err != nil || !created {
		t.Fatalf("retry after the hold was released: %v %v", created, err)
	}
}

// A hold is refused, and not stored, while an erasure of its user runs or has a receipt, or
// while an erasure of a member of its conversation runs; a stale claim (its run died) and
// another tenant's claim do not block it. A hold stored before an erasure claims its run
// refuses the erasure.
func TestHoldRefusedDuringErasure(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	svc := f.holdService(t)
	store := mongo.NewErasureStore(f.db)
	now := time.Now()

	if ok, err := store.ClaimRun(ctx, "ten_a", f.ann.UserID, "run_live", now, gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_, err := svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", UserID: f.ann.UserID, Reason: "case", CreatedBy: "api_key"})
	wantCode(t, err, "erasure_in_progress")
	if n := f.holdsOn(t, svc, "ten_a", f.ann.UserID, ""); n != 0 {
		t.Fatalf("%d holds stored on a user being erased", n)
	}

	conv := chat.Conversation{ID: ids.Random{}.New(ids.Conversation), TenantID: "ten_a", Type: chat.TypeGroup,
		Title: "deal", Members: []string{f.ann.UserID, f.admin.UserID}, CreatedBy: f.admin.UserID, CreatedAt: now.UTC()}
	if _, _, err := mongo.NewChatStore(f.db).CreateConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	_, err = svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", ConversationID: conv.ID, Reason: "case", CreatedBy: "api_key"})
	wantCode(t, err, "erasure_in_progress")
	if n := f.holdsOn(t, svc, "ten_a", "", conv.ID); n != 0 {
		t.Fatalf("%d holds stored on a conversation of a user being erased", n)
	}
	if err := store.ReleaseRun(ctx, "ten_a", f.ann.UserID, "run_live"); err != nil {
		t.Fatal(err)
	}

	// A receipt of a run that stopped halfway blocks a hold on its user.
	if _, _, err := store.ClaimErasure(ctx, gdpr.Erasure{ID: ids.Random{}.New(ids.Erasure), TenantID: "ten_a",
		UserID: f.bob.UserID, RequestedBy: edge.ActorAPIKey, RequestedAt: now}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", UserID: f.bob.UserID, Reason: "case", CreatedBy: "api_key"})
	wantCode(t, err, "erasure_in_progress")

	// A stale claim, and a claim of the same user id in another tenant, block nothing.
	if ok, err := store.ClaimRun(ctx, "ten_a", f.admin.UserID, "run_dead", now.Add(-3*time.Minute), gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if ok, err := store.ClaimRun(ctx, "ten_b", f.ann.UserID, "run_b", now, gdpr.ErasureRunStale); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, err := svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", UserID: f.admin.UserID, Reason: "case", CreatedBy: "api_key"}); err != nil {
		t.Fatalf("hold over a stale claim: %v", err)
	}
	annHold, err := svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", UserID: f.ann.UserID, Reason: "case", CreatedBy: "api_key"})
	if err != nil {
		t.Fatalf("hold while another tenant erases the same id: %v", err)
	}
	if _, err := svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", ConversationID: conv.ID, Reason: "case", CreatedBy: "api_key"}); err != nil {
		t.Fatalf("conversation hold after the run ended: %v", err)
	}

	// The hold came first: the erasure claims its run, sees the hold and is refused.
	if _, _, err := f.e.Erase(ctx, f.apiKey, f.ann.UserID, idempotency.Request{}); !errors.Is(err, gdpr.ErrUserHold) {
		t.Fatalf("erase a held user: %v", err)
	}
	if _, err := f.db.Users().UserByID(ctx, "ten_a", f.ann.UserID); err != nil {
		t.Fatalf("profile of a held user: %v", err)
	}
	if err := svc.ReleaseHold(ctx, "ten_a", annHold.ID); err != nil {
		t.Fatal(err)
	}
}

// An erasure and a hold on the same user sent at the same moment never both succeed, and
// whichever succeeds leaves a consistent state: a stored hold with the profile intact, or an
// erased user without a hold.
func TestErasureAndHoldRace(t *testing.T) {
	ctx := t.Context()
	f := newErasureFixture(t)
	svc := f.holdService(t)
	const pairs = 12
	users := make([]edge.Identity, pairs)
	for i := range users {
		users[i] = f.newUser(t, "ten_a", "racer"+string(rune('a'+i)))
	}
	eraseErr := make([]error, pairs)
	holdErr := make([]error, pairs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, u := range users {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, _, eraseErr[i] = f.e.Erase(ctx, f.apiKey, u.UserID, idempotency.Request{})
		}()
		go func() {
			defer wg.Done()
			<-start
			_, holdErr[i] = svc.PlaceHold(ctx, retention.Hold{TenantID: "ten_a", UserID: u.UserID, Reason: "race", CreatedBy: "api_key"})
		}()
	}
	close(start)
	wg.Wait()

	for i, u := range users {
		if eraseErr[i] == nil && holdErr[i] == nil {
			t.Errorf("pair %d: both the erasure and the hold succeeded", i)
		}
		for _, err := range []error{eraseErr[i], holdErr[i]} {
			if err != nil && !errors.Is(err, gdpr.ErrUserHold) && !errors.Is(err, retention.ErrUserErasure) &&
				!errors.Is(err, retention.ErrUserNotFound) {
				t.Errorf("pair %d: unexpected error %v", i, err)
			}
		}
		holds := f.holdsOn(t, svc, "ten_a", u.UserID, "")
		if holdErr[i] == nil && holds != 1 {
			t.Errorf("pair %d: hold succeeded, %d stored", i, holds)
		}
		if holdErr[i] != nil && holds != 0 {
			t.Errorf("pair %d: hold refused (%v), %d stored", i, holdErr[i], holds)
		}
		_, perr := f.db.Users().UserByID(ctx, "ten_a", u.UserID)
		if eraseErr[i] == nil && perr == nil {
			t.Errorf("pair %d: erased, profile still there", i)
		}
		if holds == 1 && perr != nil {
			t.Errorf("pair %d: a hold stands on an erased user: %v", i, perr)
		}
	}
}
