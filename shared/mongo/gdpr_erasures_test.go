package mongo

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/identity"
)

// The erasure store deletes one user's sessions, refresh tokens and their spends, MFA
// secrets, profile and export jobs, and nothing of another user or tenant; a second run finds
// nothing.
func TestErasureStoreDeletesOneUsersData(t *testing.T) {
	ctx := t.Context()
	c := openChatTestClient(t)
	s := NewErasureStore(c)
	now := time.Now().UTC().Truncate(time.Millisecond)
	type who struct{ tenant, user string }
	people := []who{{"ten_a", "usr_ann"}, {"ten_a", "usr_bob"}, {"ten_b", "usr_cat"}}
	for i, p := range people {
		u := identity.User{ID: p.user, TenantID: p.tenant, Email: p.user + "@example.com", DisplayName: p.user,
			PasswordHash: "x", CreatedAt: now}
		if err := c.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		sid := "ses_" + p.tenant + p.user
		if err := c.Sessions().CreateSession(ctx, identity.Session{ID: sid, TenantID: p.tenant, UserID: p.user, RefreshHash: "h" + sid, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := c.Sessions().AddRefreshToken(ctx, identity.RefreshToken{Hash: "h" + sid, TenantID: p.tenant, UserID: p.user, SessionID: sid, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := c.Sessions().SpendGeneration(ctx, identity.Spend{TenantID: p.tenant, SessionID: sid, Generation: 0, At: now}); err != nil {
			t.Fatal(err)
		}
		if err := c.MFA().Enable(ctx, identity.MFAFactor{TenantID: p.tenant, UserID: p.user, SealedSecret: "s", CreatedAt: now}, []string{"rc" + sid}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.compliance.Collection(ExportsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "exp_" + string(rune('a'+i))},
			{Key: "tenant_id", Value: p.tenant}, {Key: "user_id", Value: p.user}}); err != nil {
			t.Fatal(err)
		}
	}

	// Another tenant's admin naming bob erases nothing.
	if sessions, tokens, err := s.EndSessions(ctx, "ten_b", "usr_bob", now); err != nil || sessions+tokens != 0 {
		t.Fatalf("EndSessions across tenants = %d, %d, %v", sessions, tokens, err)
	}
	for _, del := range []func(context.Context, string, string) (int64, error){s.DeleteMFA, s.DeleteProfile, s.DeleteExportJobs} {
		if n, err := del(ctx, "ten_b", "usr_bob"); err != nil || n != 0 {
			t.Fatalf("delete across tenants = %d, %v", n, err)
		}
	}

	for run := 0; run < 2; run++ {
		want := int64(1 - run)
		sessions, tokens, err := s.EndSessions(ctx, "ten_a", "usr_ann", now)
		if err != nil || sessions != want || tokens != want {
			t.Fatalf("run %d: EndSessions = %d, %d, %v; want %d", run, sessions, tokens, err, want)
		}
		if n, err := s.DeleteMFA(ctx, "ten_a", "usr_ann"); err != nil || n != 2*want {
			t.Fatalf("run %d: DeleteMFA = %d, %v; want %d", run, n, err, 2*want)
		}
		if n, err := s.DeleteProfile(ctx, "ten_a", "usr_ann"); err != nil || n != want {
			t.Fatalf("run %d: DeleteProfile = %d, %v", run, n, err)
		}
		if n, err := s.DeleteExportJobs(ctx, "ten_a", "usr_ann"); err != nil || n != want {
			t.Fatalf("run %d: DeleteExportJobs = %d, %v", run, n, err)
		}
	}

	count := func(coll string, f bson.D) int64 {
		db := c.platform
		if coll == ExportsCollection {
			db = c.compliance
		}
		n, err := db.Collection(coll).CountDocuments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, coll := range []string{UsersCollection, SessionsCollection, RefreshTokensCollection, RefreshSpendsCollection, MFARecoveryCollection, ExportsCollection} {
		if n := count(coll, bson.D{}); n != 2 {
			t.Errorf("%s holds %d documents, want the other 2 users'", coll, n)
		}
	}
	if _, err := c.MFA().Factor(ctx, "ten_a", "usr_bob"); err != nil {
		t.Errorf("bob's factor: %v", err)
	}
	if _, err := c.MFA().Factor(ctx, "ten_b", "usr_cat"); err != nil {
		t.Errorf("the other tenant's cat's factor: %v", err)
	}
}
