package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Idempotency and sequence numbers are settled by inserting into unique indexes (DESIGN §4), so
// the index must hold when the inserts race.
func TestFerretDBUniqueIndexHoldsUnderConcurrentInserts(t *testing.T) {
	b := start(t, Options{Mongo: true})
	ctx := context.Background()
	coll := connectMongo(t, b.MongoURI).Database("race").Collection("messages")
	_, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "conversation_id", Value: 1}, {Key: "seq", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		t.Fatalf("create unique index: %v", err)
	}

	const writers = 20
	errs := make([]error, writers)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			<-ready
			_, errs[i] = coll.InsertOne(ctx, bson.M{"_id": fmt.Sprintf("msg_%02d", i), "conversation_id": "cnv_1", "seq": 1})
		})
	}
	close(ready)
	wg.Wait()

	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !mongo.IsDuplicateKeyError(err):
			t.Errorf("writer %d: %v, want a duplicate key error", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent inserts of one unique key succeeded, want exactly 1", won)
	}
	if n, err := coll.CountDocuments(ctx, bson.M{"conversation_id": "cnv_1"}); err != nil || n != 1 {
		t.Errorf("stored %d documents (err %v), want 1", n, err)
	}
}

// TestFerretDBQuirks pins down where FerretDB v1 differs from MongoDB in ways the stores must
// design around (see DESIGN §4). If one of these starts failing, FerretDB changed and the
// guidance there should be revisited.
func TestFerretDBQuirks(t *testing.T) {
	b := start(t, Options{Mongo: true})
	ctx := context.Background()
	db := connectMongo(t, b.MongoURI).Database("quirks")
	users := db.Collection("users")
	_, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "email", Value: 1}},
		Options: options.Index().SetUnique(true).SetName("tenant_email"),
	})
	if err != nil {
		t.Fatalf("create index: %v", err)
	}
	insert := func(doc bson.M) error { _, err := users.InsertOne(ctx, doc); return err }
	for _, d := range []bson.M{
		{"_id": "usr_1", "tenant_id": "ten_a", "email": "e"},
		{"_id": "usr_2", "tenant_id": "ten_b", "email": "e"}, // same email, other tenant
		{"_id": "usr_3", "tenant_id": "ten_a"},
	} {
		if err := insert(d); err != nil {
			t.Fatalf("insert %v: %v", d["_id"], err)
		}
	}

	t.Run("creating the same index again is accepted", func(t *testing.T) {
		_, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{
			Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "email", Value: 1}},
			Options: options.Index().SetUnique(true).SetName("tenant_email"),
		})
		if err != nil {
			t.Errorf("re-create: %v", err)
		}
	})
	t.Run("TTL and partial indexes are refused", func(t *testing.T) {
		for name, o := range map[string]*options.IndexOptions{
			"ttl":     options.Index().SetExpireAfterSeconds(60),
			"partial": options.Index().SetPartialFilterExpression(bson.M{"x": bson.M{"$exists": true}}),
		} {
			_, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "x", Value: 1}}, Options: o})
			if err == nil {
				t.Errorf("%s index accepted; FerretDB now serves it", name)
			}
		}
	})
	t.Run("unique index ignores documents missing the field", func(t *testing.T) {
		// MongoDB indexes a missing field as null and refuses this second insert.
		if err := insert(bson.M{"_id": "usr_4", "tenant_id": "ten_a"}); err != nil {
			t.Errorf("second document without email: %v", err)
		}
	})
	t.Run("update into a unique conflict is not a duplicate key error", func(t *testing.T) {
		_, err := users.UpdateOne(ctx, bson.M{"_id": "usr_2"}, bson.M{"$set": bson.M{"tenant_id": "ten_a"}})
		if err == nil {
			t.Fatal("update into a unique conflict succeeded")
		}
		if mongo.IsDuplicateKeyError(err) {
			t.Error("update conflict now reported as duplicate key; uniqueness could be enforced at update")
		}
	})
	t.Run("sort puts missing and null first, ties broken by _id", func(t *testing.T) {
		s := db.Collection("sorting")
		if _, err := s.InsertMany(ctx, []any{
			bson.M{"_id": "a", "k": 2}, bson.M{"_id": "b"}, bson.M{"_id": "c", "k": 1},
			bson.M{"_id": "d", "k": nil}, bson.M{"_id": "e", "k": 1},
		}); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if got := ids(t, s, bson.M{}, options.Find().SetSort(bson.D{{Key: "k", Value: 1}, {Key: "_id", Value: 1}})); got != "b,d,c,e,a" {
			t.Errorf("ascending = %s, want b,d,c,e,a", got)
		}
		if got := ids(t, s, bson.M{"k": bson.M{"$in": bson.A{1, 2}}}, options.Find().SetSort(bson.D{{Key: "_id", Value: -1}})); got != "e,c,a" {
			t.Errorf("$in = %s, want e,c,a", got)
		}
		if got := ids(t, s, bson.M{"_id": bson.M{"$in": bson.A{}}}, nil); got != "" {
			t.Errorf("empty $in = %q, want nothing", got)
		}
		if got := ids(t, s, bson.M{"_id": bson.M{"$gt": "c"}}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(1)); got != "d" {
			t.Errorf("$gt on string ids with limit = %s, want d", got)
		}
	})
	t.Run("times are stored with millisecond precision", func(t *testing.T) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 678_901_234, time.UTC)
		c := db.Collection("times")
		if _, err := c.InsertOne(ctx, bson.M{"_id": "t", "at": at}); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got struct{ At time.Time }
		if err := c.FindOne(ctx, bson.M{"_id": "t"}).Decode(&got); err != nil {
			t.Fatalf("find: %v", err)
		}
		if want := at.Truncate(time.Millisecond); !got.At.Equal(want) {
			t.Errorf("stored %v, want %v", got.At, want)
		}
	})
	t.Run("database names longer than 63 bytes are refused", func(t *testing.T) {
		long := fmt.Sprintf("%064d", 0)
		if _, err := db.Client().Database(long).Collection("c").InsertOne(ctx, bson.M{}); err == nil {
			t.Error("64-byte database name accepted")
		}
	})
}

// ids returns the _id of each document found, comma-separated.
func ids(t *testing.T, c *mongo.Collection, filter any, opts *options.FindOptions) string {
	t.Helper()
	cur, err := c.Find(context.Background(), filter, opts)
	if err != nil {
		t.Fatalf("find %v: %v", filter, err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatalf("read %v: %v", filter, err)
	}
	out := ""
	for i, d := range docs {
		if i > 0 {
			out += ","
		}
		out += d.ID
	}
	return out
}
