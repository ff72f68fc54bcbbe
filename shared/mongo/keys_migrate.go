package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Collections of the key store, in caas_crypto.
const (
	// KeysCollection holds one document per named key of a tenant: its owner and policy.
	KeysCollection = "keys"
	// KeyVersionsCollection holds one document per version of a key: its wrapped data key.
	KeyVersionsCollection = "key_versions"
)

// migrateKeys creates the key and key version collections and their indexes. A version is
// claimed by inserting it under its (tenant, name, version) _id, which the unique index
// repeats, so concurrent rotations never both make one version (DESIGN §4).
func (c *Client) migrateKeys(ctx context.Context) error {
	steps := []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{c.crypto.Collection(KeysCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "owner", Value: 1}, {Key: "name", Value: 1}},
				Options: options.Index().SetName("tenant_owner_name")},
			{Keys: bson.D{{Key: "next_rotation_at", Value: 1}},
				Options: options.Index().SetName("next_rotation")},
		}},
		{c.crypto.Collection(KeyVersionsCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "name", Value: 1}, {Key: "version", Value: 1}},
				Options: options.Index().SetName("tenant_name_version").SetUnique(true)},
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "wrapper_name", Value: 1}, {Key: "wrapper_version", Value: 1}},
				Options: options.Index().SetName("tenant_wrapper")},
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
