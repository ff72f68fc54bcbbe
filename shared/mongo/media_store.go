package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/chat"
	"caas.dev/shared/media"
)

// MediaCollection holds media documents, in caas_platform.
const MediaCollection = "media"

// MediaStore implements media.Store on caas_platform.media, and the membership check of
// media.Members on the chat store's memberships.
type MediaStore struct {
	coll *mongo.Collection
	chat *ChatStore
}

var (
	_ media.Store   = (*MediaStore)(nil)
	_ media.Members = (*MediaStore)(nil)
)

// NewMediaStore returns the media store on c. Run c.Migrate first.
func NewMediaStore(c *Client) *MediaStore {
	return &MediaStore{coll: c.platform.Collection(MediaCollection), chat: NewChatStore(c)}
}

// mediaDoc is a document of caas_platform.media.
type mediaDoc struct {
	ID             string    `bson:"_id"`
	TenantID       string    `bson:"tenant_id"`
	ConversationID string    `bson:"conversation_id"`
	UploaderID     string    `bson:"uploader_id"`
	Filename       string    `bson:"filename"`
	ContentType    string    `bson:"content_type"`
	Size           int64     `bson:"size"`
	ObjectKey      string    `bson:"object_key"`
	Status         string    `bson:"status"`
	CreatedAt      time.Time `bson:"created_at"`
	ReadyAt        time.Time `bson:"ready_at,omitempty"`
}

func (d mediaDoc) media() media.Media {
	m := media.Media{ID: d.ID, TenantID: d.TenantID, ConversationID: d.ConversationID, UploaderID: d.UploaderID,
		Filename: d.Filename, ContentType: d.ContentType, Size: d.Size, ObjectKey: d.ObjectKey, Status: d.Status,
		CreatedAt: d.CreatedAt.UTC()}
	if !d.ReadyAt.IsZero() {
		m.ReadyAt = d.ReadyAt.UTC()
	}
	return m
}

func (c *Client) migrateMedia(ctx context.Context) error {
	coll := c.platform.Collection(MediaCollection)
	return ensureIndexes(ctx, coll,
		mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "uploader_id", Value: 1}, {Key: "created_at", Value: 1}}},
		mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "conversation_id", Value: 1}, {Key: "created_at", Value: 1}}},
	)
}

// InsertMedia implements media.Store: the insert into the unique _id decides.
func (s *MediaStore) InsertMedia(ctx context.Context, m media.Media) (media.Media, bool, error) {
	d := mediaDoc{ID: m.ID, TenantID: m.TenantID, ConversationID: m.ConversationID, UploaderID: m.UploaderID,
		Filename: m.Filename, ContentType: m.ContentType, Size: m.Size, ObjectKey: m.ObjectKey, Status: m.Status,
		CreatedAt: m.CreatedAt.UTC().Truncate(time.Millisecond)}
	_, err := s.coll.InsertOne(ctx, d)
	if err == nil {
		return d.media(), true, nil
	}
	if !isDuplicateKey(err) {
		return media.Media{}, false, fmt.Errorf("insert media: %w", err)
	}
	held, err := s.MediaByID(ctx, m.TenantID, m.ID)
	if err != nil {
		return media.Media{}, false, err
	}
	return held, false, nil
}

// MediaByID implements media.Store.
func (s *MediaStore) MediaByID(ctx context.Context, tenantID, id string) (media.Media, error) {
	var d mediaDoc
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return media.Media{}, media.ErrNotFound
	}
	if err != nil {
		return media.Media{}, fmt.Errorf("read media: %w", err)
	}
	return d.media(), nil
}

// MarkReady implements media.Store. Setting the same fields again is harmless, so a plain
// update suffices without atomicity.
func (s *MediaStore) MarkReady(ctx context.Context, tenantID, id string, at time.Time) error {
	_, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: media.StatusReady}, {Key: "ready_at", Value: at.UTC().Truncate(time.Millisecond)},
		}}})
	if err != nil {
		return fmt.Errorf("mark media ready: %w", err)
	}
	return nil
}

// IsMember implements media.Members.
func (s *MediaStore) IsMember(ctx context.Context, tenantID, conversationID, userID string) (bool, error) {
	_, err := s.chat.MemberConversation(ctx, tenantID, conversationID, userID)
	if errors.Is(err, chat.ErrConversationNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// MediaOfUploader returns every media the user uploaded, oldest first, pending ones included.
func (s *MediaStore) MediaOfUploader(ctx context.Context, tenantID, userID string) ([]media.Media, error) {
	var docs []mediaDoc
	if err := findAll(ctx, s.coll, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "uploader_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}), &docs); err != nil {
		return nil, fmt.Errorf("list media of user: %w", err)
	}
	out := make([]media.Media, len(docs))
	for i, d := range docs {
		out[i] = d.media()
	}
	return out, nil
}

// DeleteMediaDocs deletes the tenant's media documents with the given ids and returns how many
// it deleted.
func (s *MediaStore) DeleteMediaDocs(ctx context.Context, tenantID string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.coll.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("delete media: %w", err)
	}
	return int(res.DeletedCount), nil
}
