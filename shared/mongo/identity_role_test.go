package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/identity"
)

// A user document written before roles existed has no role field: it reads as an ordinary
// user, and SetUserRole gives it one.
func TestUserWithoutRoleReadsAsUser(t *testing.T) {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := OpenWithPrefix(ctx, backendtest.MongoURI(t), "u"+hex.EncodeToString(b)+"_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Drop(ctx)
		_ = c.Close(ctx)
	})
	if _, err := c.platform.Collection(UsersCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: "usr_legacy"}, {Key: "tenant_id", Value: "ten_legacy"}, {Key: "email", Value: "old@example.com"},
		{Key: "display_name", Value: "Old"}, {Key: "password_hash", Value: "x"}, {Key: "created_at", Value: time.Unix(1, 0)},
	}); err != nil {
		t.Fatal(err)
	}
	users := c.Users()
	if u, err := users.UserByID(ctx, "ten_legacy", "usr_legacy"); err != nil || u.Role != identity.RoleUser {
		t.Fatalf("a document without role: %+v, %v; want role user", u, err)
	}
	if err := users.SetUserRole(ctx, "ten_legacy", "usr_legacy", identity.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if u, err := users.UserByEmail(ctx, "ten_legacy", "old@example.com"); err != nil || u.Role != identity.RoleAdmin {
		t.Fatalf("after SetUserRole: %+v, %v", u, err)
	}
	if err := users.SetUserRole(ctx, "ten_other", "usr_legacy", identity.RoleUser); err != identity.ErrUserNotFound {
		t.Fatalf("another tenant: %v, want ErrUserNotFound", err)
	}
}
