package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/chat"
)

// ChatStore implements chat.Store. Conversations, memberships, messages and read marks live in
// caas_platform; every query names the tenant, except the sweeper's Unpublished.
type ChatStore struct {
	conversations *mongo.Collection
	members       *mongo.Collection
	pairs         *mongo.Collection
	messages      *mongo.Collection
	keys          *mongo.Collection
	marks         *mongo.Collection
	jobs          *mongo.Collection
	seqs          *seqHints
}

var _ chat.Store = (*ChatStore)(nil)

// NewChatStore returns the chat store on c's platform database. Run c.Migrate first.
func NewChatStore(c *Client) *ChatStore {
	return &ChatStore{
		conversations: c.platform.Collection(conversationsColl),
		members:       c.platform.Collection(membersColl),
		pairs:         c.platform.Collection(directPairsColl),
		messages:      c.platform.Collection(messagesColl),
		keys:          c.platform.Collection(messageKeysColl),
		marks:         c.platform.Collection(readMarksColl),
		jobs:          c.platform.Collection(jobStateColl),
		seqs:          &seqHints{},
	}
}

type conversationDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	Type      string    `bson:"type"`
	Title     string    `bson:"title"`
	Members   []string  `bson:"members"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d conversationDoc) conversation() chat.Conversation {
	return chat.Conversation{
		ID: d.ID, TenantID: d.TenantID, Type: d.Type, Title: d.Title, Members: d.Members,
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt.UTC(),
	}
}

// memberDoc says a user belongs to a conversation; its _id makes the pair unique.
type memberDoc struct {
	ID             string    `bson:"_id"` // conversation_id|user_id
	TenantID       string    `bson:"tenant_id"`
	ConversationID string    `bson:"conversation_id"`
	UserID         string    `bson:"user_id"`
	JoinedAt       time.Time `bson:"joined_at"`
}

// directPairDoc claims the one direct conversation of two users. The conversation id is chosen
// before the claim and stored in it, so a caller that finds a claim without its conversation
// (its creator stopped halfway) completes the creation under that id.
type directPairDoc struct {
	ID             string `bson:"_id"` // tenant_id|lower user id|higher user id
	TenantID       string `bson:"tenant_id"`
	ConversationID string `bson:"conversation_id"`
}

// CreateConversation implements chat.Store. The memberships are written before the
// conversation, each insert tolerating a document of the same id: a membership whose
// conversation is missing is invisible (MemberConversation and ListConversations skip it), so a
// conversation appears only once every member is in it, and a retry under the same id after a
// stop at any step completes it instead of failing or making a second one.
func (s *ChatStore) CreateConversation(ctx context.Context, c chat.Conversation) (chat.Conversation, bool, error) {
	if err := s.ensureMembers(ctx, c); err != nil {
		return chat.Conversation{}, false, err
	}
	doc := conversationDoc{
		ID: c.ID, TenantID: c.TenantID, Type: c.Type, Title: c.Title, Members: c.Members,
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt,
	}
	_, err := s.conversations.InsertOne(ctx, doc)
	if err == nil {
		return c, true, nil
	}
	if !isDuplicateKey(err) {
		return chat.Conversation{}, false, fmt.Errorf("insert conversation: %w", err)
	}
	// An earlier attempt with this id, or a racing one, stored it first.
	var stored conversationDoc
	err = s.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "tenant_id", Value: c.TenantID}}).Decode(&stored)
	if err != nil {
		return chat.Conversation{}, false, fmt.Errorf("read conversation: %w", err)
	}
	return stored.conversation(), false, nil
}

// ensureMembers writes the memberships of c that are missing.
func (s *ChatStore) ensureMembers(ctx context.Context, c chat.Conversation) error {
	docs := make([]any, len(c.Members))
	for i, u := range c.Members {
		docs[i] = memberDoc{
			ID: c.ID + "|" + u, TenantID: c.TenantID, ConversationID: c.ID, UserID: u, JoinedAt: c.CreatedAt,
		}
	}
	_, err := s.members.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err != nil && !onlyDuplicateKeys(err) {
		return fmt.Errorf("insert members: %w", err)
	}
	return nil
}

// OpenDirect implements chat.Store.
func (s *ChatStore) OpenDirect(ctx context.Context, c chat.Conversation) (chat.Conversation, bool, error) {
	if len(c.Members) != 2 {
		return chat.Conversation{}, false, fmt.Errorf("open direct: %d members, want 2", len(c.Members))
	}
	pair := slices.Clone(c.Members)
	slices.Sort(pair)
	claim := directPairDoc{ID: c.TenantID + "|" + pair[0] + "|" + pair[1], TenantID: c.TenantID, ConversationID: c.ID}

	if _, err := s.pairs.InsertOne(ctx, claim); err != nil {
		if !isDuplicateKey(err) {
			return chat.Conversation{}, false, fmt.Errorf("claim direct pair: %w", err)
		}
		var existing directPairDoc
		err := s.pairs.FindOne(ctx, bson.D{{Key: "_id", Value: claim.ID}, {Key: "tenant_id", Value: c.TenantID}}).Decode(&existing)
		if err != nil {
			return chat.Conversation{}, false, fmt.Errorf("read direct pair: %w", err)
		}
		c.ID = existing.ConversationID
	}

	// Whoever inserts the conversation created it; everyone else, racing or later, reads it.
	// The memberships of the pair are written first either way, which also completes one that
	// an earlier creator wrote conversation-first and left without them.
	return s.CreateConversation(ctx, c)
}

// MemberConversation implements chat.Store.
func (s *ChatStore) MemberConversation(ctx context.Context, tenantID, conversationID, userID string) (chat.Conversation, error) {
	err := s.members.FindOne(ctx, bson.D{
		{Key: "_id", Value: conversationID + "|" + userID}, {Key: "tenant_id", Value: tenantID},
	}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return chat.Conversation{}, chat.ErrConversationNotFound
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("read membership: %w", err)
	}
	var doc conversationDoc
	err = s.conversations.FindOne(ctx, bson.D{{Key: "_id", Value: conversationID}, {Key: "tenant_id", Value: tenantID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return chat.Conversation{}, chat.ErrConversationNotFound
	}
	if err != nil {
		return chat.Conversation{}, fmt.Errorf("read conversation: %w", err)
	}
	return doc.conversation(), nil
}

// ListConversations implements chat.Store. It pages over the user's memberships, whose
// conversation ids are unique, so the order is total. A membership whose conversation is not
// stored (yet, or ever, when its creator stopped and was not retried) is skipped, and the page
// is filled from the memberships after it.
func (s *ChatStore) ListConversations(ctx context.Context, tenantID, userID, beforeID string, limit int) ([]chat.Conversation, error) {
	out := make([]chat.Conversation, 0, limit)
	for len(out) < limit {
		want := limit - len(out)
		page, last, err := s.listConversationsOnce(ctx, tenantID, userID, beforeID, want)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if last == "" {
			break
		}
		beforeID = last
	}
	return out, nil
}

// listConversationsOnce reads up to limit memberships of userID before beforeID and returns
// their stored conversations in order, and the last membership's conversation id when there
// may be more ("" when the memberships ran out).
func (s *ChatStore) listConversationsOnce(ctx context.Context, tenantID, userID, beforeID string, limit int) ([]chat.Conversation, string, error) {
	filter := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}}
	if beforeID != "" {
		filter = append(filter, bson.E{Key: "conversation_id", Value: bson.D{{Key: "$lt", Value: beforeID}}})
	}
	opts := options.Find().SetSort(bson.D{{Key: "conversation_id", Value: -1}}).SetLimit(int64(limit)).
		SetProjection(bson.D{{Key: "conversation_id", Value: 1}})
	var ms []memberDoc
	if err := findAll(ctx, s.members, filter, opts, &ms); err != nil {
		return nil, "", fmt.Errorf("find memberships: %w", err)
	}
	if len(ms) == 0 {
		return nil, "", nil
	}
	convIDs := make([]string, len(ms))
	for i, m := range ms {
		convIDs[i] = m.ConversationID
	}

	var docs []conversationDoc
	err := findAll(ctx, s.conversations, bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: convIDs}}},
	}, options.Find(), &docs)
	if err != nil {
		return nil, "", fmt.Errorf("find conversations: %w", err)
	}
	byID := make(map[string]conversationDoc, len(docs))
	for _, d := range docs {
		byID[d.ID] = d
	}
	out := make([]chat.Conversation, 0, len(convIDs))
	for _, id := range convIDs {
		if d, ok := byID[id]; ok {
			out = append(out, d.conversation())
		}
	}
	last := ""
	if len(ms) == limit {
		last = convIDs[len(convIDs)-1]
	}
	return out, last, nil
}

// findAll runs a query and decodes every result into out.
func findAll(ctx context.Context, coll *mongo.Collection, filter any, opts *options.FindOptions, out any) error {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// onlyDuplicateKeys reports whether every write error of an unordered bulk insert is a
// duplicate key, i.e. the documents that failed were there already.
func onlyDuplicateKeys(err error) bool {
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		return isDuplicateKey(err)
	}
	if bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != duplicateKeyCode {
			return false
		}
	}
	return true
}

// UserDirectory implements chat.Directory over the users collection the identity store writes.
type UserDirectory struct {
	users *mongo.Collection
}

var _ chat.Directory = (*UserDirectory)(nil)

// NewUserDirectory returns the user directory on c's platform database.
func NewUserDirectory(c *Client) *UserDirectory {
	return &UserDirectory{users: c.platform.Collection("users")}
}

// Missing implements chat.Directory.
func (d *UserDirectory) Missing(ctx context.Context, tenantID string, userIDs []string) ([]string, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var found []struct {
		ID string `bson:"_id"`
	}
	err := findAll(ctx, d.users, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: userIDs}}}, {Key: "tenant_id", Value: tenantID},
	}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}), &found)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	have := make(map[string]bool, len(found))
	for _, f := range found {
		have[f.ID] = true
	}
	var missing []string
	for _, id := range userIDs {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// duplicateKeyCode is the server's error code for a unique index violation.
const duplicateKeyCode = 11000
