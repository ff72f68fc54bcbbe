package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Collections of the identity and tenant stores. The chat stores read users directly, so the
// users collection's name and field names are a contract (see userDoc).
const (
	TenantsCollection     = "tenants"
	UsersCollection       = "users"
	SessionsCollection    = "sessions"
	SigningKeysCollection = "signing_keys"
)

// migrateIdentity creates the tenant, user, session and signing-key collections and indexes.
// Every uniqueness rule lives in a unique index and is enforced at insert (DESIGN §4).
func (c *Client) migrateIdentity(ctx context.Context) error {
	unique := func(name string, keys bson.D) mongo.IndexModel {
		return mongo.IndexModel{Keys: keys, Options: options.Index().SetName(name).SetUnique(true)}
	}
	plain := func(name string, keys bson.D) mongo.IndexModel {
		return mongo.IndexModel{Keys: keys, Options: options.Index().SetName(name)}
	}
	steps := []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{c.platform.Collection(TenantsCollection), nil},
		{c.platform.Collection(UsersCollection), []mongo.IndexModel{
			unique("tenant_email", bson.D{{Key: "tenant_id", Value: 1}, {Key: "email", Value: 1}}),
		}},
		{c.platform.Collection(SessionsCollection), []mongo.IndexModel{
			unique("refresh_hash", bson.D{{Key: "refresh_hash", Value: 1}}),
			plain("tenant_user", bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}}),
		}},
		{c.platform.Collection(RefreshTokensCollection), []mongo.IndexModel{
			plain("session", bson.D{{Key: "session_id", Value: 1}}),
		}},
		{c.platform.Collection(RefreshSpendsCollection), nil},
		{c.crypto.Collection(SigningKeysCollection), []mongo.IndexModel{
			unique("generation", bson.D{{Key: "generation", Value: 1}}),
		}},
	}
	for _, s := range steps {
		if err := ensureIdentityCollection(ctx, s.coll); err != nil {
			return err
		}
		if err := ensureIndexes(ctx, s.coll, s.models...); err != nil {
			return err
		}
	}
	return nil
}

// ensureIdentityCollection creates coll when it does not exist, so a fresh deployment shows
// every collection before its first write.
func ensureIdentityCollection(ctx context.Context, coll *mongo.Collection) error {
	db := coll.Database()
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: coll.Name()}})
	if err != nil {
		return fmt.Errorf("list collections: %w", err)
	}
	if len(names) > 0 {
		return nil
	}
	err = db.CreateCollection(ctx, coll.Name())
	var ce mongo.CommandError
	// Another Migrate may have created it meanwhile.
	if err != nil && !(errors.As(err, &ce) && ce.Code == namespaceExists) {
		return fmt.Errorf("create collection %s: %w", coll.Name(), err)
	}
	return nil
}
