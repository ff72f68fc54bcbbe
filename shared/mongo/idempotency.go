package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"caas.dev/shared/idempotency"
)

// idempotencyKeysColl holds the Idempotency-Key claims of creating calls, in caas_platform.
const idempotencyKeysColl = "idempotency_keys"

// IdempotencyKeys implements idempotency.Store. A claim is one document whose _id is the scope
// and the key, so the first insert of a key wins and every later one fails with a duplicate.
//
// TODO: claims are never deleted, so a key stays bound to its first request for good (Stripe
// forgets keys after 24 hours); the retention schedule should remove claims older than a day.
type IdempotencyKeys struct {
	coll *mongo.Collection
}

var _ idempotency.Store = (*IdempotencyKeys)(nil)

// NewIdempotencyKeys returns the claim store on c's platform database. Run c.Migrate first.
func NewIdempotencyKeys(c *Client) *IdempotencyKeys {
	return &IdempotencyKeys{coll: c.platform.Collection(idempotencyKeysColl)}
}

// idempotencyKeyDoc is a document of caas_platform.idempotency_keys. It stores a hash of the
// request, never the request itself, and nothing secret.
type idempotencyKeyDoc struct {
	ID            string    `bson:"_id"` // scope|key
	Scope         string    `bson:"scope"`
	RequestSHA256 string    `bson:"request_sha256"`
	ResourceID    string    `bson:"resource_id"`
	CreatedAt     time.Time `bson:"created_at"`
}

// Claim implements idempotency.Store. The key comes last in the _id and a scope never holds
// the separator in a way that could shift it: scopes are fixed names and well-formed ids.
func (k *IdempotencyKeys) Claim(ctx context.Context, c idempotency.Claim) (idempotency.Claim, bool, error) {
	doc := idempotencyKeyDoc{
		ID: c.Scope + "|" + c.Key, Scope: c.Scope, RequestSHA256: c.RequestSHA256,
		ResourceID: c.ResourceID, CreatedAt: c.CreatedAt,
	}
	_, err := k.coll.InsertOne(ctx, doc)
	if err == nil {
		return c, true, nil
	}
	if !isDuplicateKey(err) {
		return idempotency.Claim{}, false, fmt.Errorf("insert idempotency key: %w", err)
	}
	var held idempotencyKeyDoc
	if err := k.coll.FindOne(ctx, bson.D{{Key: "_id", Value: doc.ID}}).Decode(&held); err != nil {
		return idempotency.Claim{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	return idempotency.Claim{
		Scope: held.Scope, Key: c.Key, RequestSHA256: held.RequestSHA256,
		ResourceID: held.ResourceID, CreatedAt: held.CreatedAt.UTC(),
	}, false, nil
}

// migrateIdempotency creates the claims collection. It is unique by _id alone and needs no
// other index: every read is by _id.
func (c *Client) migrateIdempotency(ctx context.Context) error {
	return ensureChatCollection(ctx, c.platform, idempotencyKeysColl)
}
