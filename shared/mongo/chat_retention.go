package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// DeleteMessages implements retention.Store: it finds up to limit of the conversation's
// messages created before cutoff, sent by none of spareSenders, and deletes them with their
// idempotency keys. A retried send of a deleted message's client id is a new message.
func (s *RetentionStore) DeleteMessages(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spareSenders []string, limit int) (int, error) {
	q := withNotIn(bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "conversation_id", Value: conversationID},
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff.UTC()}}},
	}, "sender_id", spareSenders)
	cur, err := s.messages.Find(ctx, q, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "sender_id", Value: 1}, {Key: "client_msg_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("find expired messages: %w", err)
	}
	var docs []struct {
		ID          string `bson:"_id"`
		SenderID    string `bson:"sender_id"`
		ClientMsgID string `bson:"client_msg_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, fmt.Errorf("find expired messages: %w", err)
	}
	if len(docs) == 0 {
		return 0, nil
	}
	ids := make([]string, len(docs))
	keys := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
		keys[i] = tenantID + "|" + conversationID + "|" + d.SenderID + "|" + d.ClientMsgID
	}
	res, err := s.messages.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("delete expired messages: %w", err)
	}
	if _, err := s.messageKeys.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: keys}}}}); err != nil {
		return int(res.DeletedCount), fmt.Errorf("delete expired message keys: %w", err)
	}
	return int(res.DeletedCount), nil
}
