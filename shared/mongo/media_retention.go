package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/media"
	"caas.dev/shared/retention"
)

var _ retention.MediaStore = (*MediaStore)(nil)

// ExpiredMedia implements retention.MediaStore: up to limit media of the conversation created
// before cutoff, oldest first, uploaded by none of spareUploaders.
func (s *MediaStore) ExpiredMedia(ctx context.Context, tenantID, conversationID string, cutoff time.Time, spareUploaders []string, limit int) ([]retention.MediaItem, error) {
	q := withNotIn(bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "conversation_id", Value: conversationID},
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff.UTC()}}},
	}, "uploader_id", spareUploaders)
	cur, err := s.coll.Find(ctx, q, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "object_key", Value: 1}, {Key: "conversation_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find expired media: %w", err)
	}
	var docs []struct {
		ID             string `bson:"_id"`
		ObjectKey      string `bson:"object_key"`
		ConversationID string `bson:"conversation_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find expired media: %w", err)
	}
	out := make([]retention.MediaItem, len(docs))
	for i, d := range docs {
		out[i] = retention.MediaItem{ID: d.ID, ObjectKey: d.ObjectKey,
			UploadKey: media.UploadKey(tenantID, d.ConversationID, d.ID)}
	}
	return out, nil
}
