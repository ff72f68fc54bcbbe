package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Collections of the chat store, all in caas_platform.
const (
	conversationsColl = "conversations"
	membersColl       = "members"
	directPairsColl   = "direct_pairs"
	messagesColl      = "messages"
	messageKeysColl   = "message_keys"
	readMarksColl     = "read_marks"
	// jobStateColl keeps where platform jobs (the message re-encryption) stopped.
	jobStateColl = "job_state"
)

// namespaceExists is the server's error code for creating a collection that exists.
const namespaceExists = 48

// migrateChat creates the conversation, member, message and read mark collections and indexes.
// The unique indexes are load-bearing: the direct pair, the message key, the (conversation,
// seq) pair and the read mark are claimed by inserting into them, because updates are not
// atomic on FerretDB v1.
func (c *Client) migrateChat(ctx context.Context) error {
	db := c.platform
	steps := []struct {
		coll   string
		models []mongo.IndexModel
	}{
		{conversationsColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "_id", Value: 1}}},
		}},
		{membersColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "conversation_id", Value: -1}}},
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "conversation_id", Value: 1}}},
		}},
		// direct_pairs and message_keys are unique by _id alone; they need no other index.
		{directPairsColl, nil},
		{messageKeysColl, nil},
		{jobStateColl, nil},
		{readMarksColl, []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "conversation_id", Value: 1}, {Key: "seq", Value: -1}}},
		}},
		{messagesColl, []mongo.IndexModel{
			{
				Keys:    bson.D{{Key: "conversation_id", Value: 1}, {Key: "seq", Value: 1}},
				Options: options.Index().SetUnique(true).SetName("conversation_seq_unique"),
			},
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "conversation_id", Value: 1}, {Key: "seq", Value: -1}}},
			{Keys: bson.D{{Key: "published", Value: 1}, {Key: "created_at", Value: 1}}},
		}},
	}
	for _, s := range steps {
		if err := ensureChatCollection(ctx, db, s.coll); err != nil {
			return err
		}
		if err := ensureIndexes(ctx, db.Collection(s.coll), s.models...); err != nil {
			return err
		}
	}
	return nil
}

// ensureCollection creates the named collection unless it exists, so the first concurrent
// inserts after a deploy do not race to create it implicitly.
func ensureChatCollection(ctx context.Context, db *mongo.Database, name string) error {
	names, err := db.ListCollectionNames(ctx, bson.D{{Key: "name", Value: name}})
	if err != nil {
		return fmt.Errorf("list collections: %w", err)
	}
	if len(names) > 0 {
		return nil
	}
	err = db.CreateCollection(ctx, name)
	var ce mongo.CommandError
	if err != nil && !(errors.As(err, &ce) && ce.Code == namespaceExists) {
		return fmt.Errorf("create collection %s: %w", name, err)
	}
	return nil
}
