package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/chat"
)

// lastMessageReaders bounds the concurrent last-message queries of one Activity call.
const lastMessageReaders = 8

// Message implements chat.Store.
func (s *ChatStore) Message(ctx context.Context, tenantID, messageID string) (chat.Message, error) {
	m, found, err := s.messageByID(ctx, tenantID, messageID)
	if err != nil {
		return chat.Message{}, err
	}
	if !found {
		return chat.Message{}, chat.ErrMessageNotFound
	}
	return m, nil
}

// Members implements chat.Store. The conversation document lists its members and is written
// only after every membership, so it never names a member that cannot read it.
func (s *ChatStore) Members(ctx context.Context, tenantID, conversationID string) ([]string, error) {
	var doc conversationDoc
	err := s.conversations.FindOne(ctx,
		bson.D{{Key: "_id", Value: conversationID}, {Key: "tenant_id", Value: tenantID}},
		options.FindOne().SetProjection(bson.D{{Key: "members", Value: 1}}),
	).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, chat.ErrConversationNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read conversation: %w", err)
	}
	return doc.Members, nil
}

// readMarkDoc records that a member has read a conversation up to Seq. A member's read
// position is the highest Seq of its marks. Marks are only ever inserted, and deleted only
// below a mark that exists, so the highest survives every race: the position is monotonic on
// FerretDB v1 too, whose updates are read-then-write and would let a racing lower write win
// over a higher one on a read_seq field.
type readMarkDoc struct {
	ID             string `bson:"_id"` // tenant_id|conversation_id|user_id|seq
	TenantID       string `bson:"tenant_id"`
	ConversationID string `bson:"conversation_id"`
	UserID         string `bson:"user_id"`
	Seq            int64  `bson:"seq"`
}

// MarkRead implements chat.Store. Unless a mark at or above seq exists, it inserts the mark for
// seq, then deletes the member's marks below it. A delete only removes marks lower than one
// that exists (this call's, or, if a higher call deleted that, the higher one's), so the
// highest mark is never deleted and the position never falls, on MongoDB and on FerretDB v1
// alike. Racing calls may leave a few lower marks behind; the member's next forward MarkRead
// removes them, and reads take the highest anyway.
func (s *ChatStore) MarkRead(ctx context.Context, tenantID, conversationID, userID string, seq int64) error {
	// Reading older history marks nothing: a mark below the position would only be clutter.
	err := s.marks.FindOne(ctx, bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID},
		{Key: "conversation_id", Value: conversationID}, {Key: "seq", Value: bson.D{{Key: "$gte", Value: seq}}},
	}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if err == nil {
		return nil
	}
	if !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read read marks: %w", err)
	}
	mark := readMarkDoc{
		ID:       tenantID + "|" + conversationID + "|" + userID + "|" + strconv.FormatInt(seq, 10),
		TenantID: tenantID, ConversationID: conversationID, UserID: userID, Seq: seq,
	}
	if _, err := s.marks.InsertOne(ctx, mark); err != nil {
		if isDuplicateKey(err) {
			// A racing call of the same member marked the same seq.
			return nil
		}
		return fmt.Errorf("insert read mark: %w", err)
	}
	_, err = s.marks.DeleteMany(ctx, bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID},
		{Key: "conversation_id", Value: conversationID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: seq}}},
	})
	if err != nil {
		// The position is stored and a retry is harmless: the lower marks are only clutter.
		return fmt.Errorf("delete lower read marks: %w", err)
	}
	return nil
}

// Activity implements chat.Store. It reads the user's read marks of the conversations in one
// query, then the last message of each, newest seq first with limit 1, which the
// (tenant_id, conversation_id, seq) index answers on MongoDB. The last message is read rather
// than kept as a counter on the conversation, because a counter updated without atomic
// updates (FerretDB v1) could lose increments and show wrong unread counts for good.
func (s *ChatStore) Activity(ctx context.Context, tenantID, userID string, conversationIDs []string) (map[string]chat.Activity, error) {
	out := make(map[string]chat.Activity, len(conversationIDs))
	if len(conversationIDs) == 0 {
		return out, nil
	}
	var marks []readMarkDoc
	err := findAll(ctx, s.marks, bson.D{
		{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID},
		{Key: "conversation_id", Value: bson.D{{Key: "$in", Value: conversationIDs}}},
	}, options.Find().SetProjection(bson.D{{Key: "conversation_id", Value: 1}, {Key: "seq", Value: 1}}), &marks)
	if err != nil {
		return nil, fmt.Errorf("find read marks: %w", err)
	}
	read := make(map[string]int64, len(conversationIDs))
	for _, m := range marks {
		read[m.ConversationID] = max(read[m.ConversationID], m.Seq)
	}

	acts := make([]chat.Activity, len(conversationIDs))
	errs := make([]error, len(conversationIDs))
	sem := make(chan struct{}, lastMessageReaders)
	var wg sync.WaitGroup
	for i, id := range conversationIDs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			acts[i].ReadSeq = read[id]
			acts[i].LastSeq, acts[i].LastMessageAt, errs[i] = s.lastMessage(ctx, tenantID, id)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, id := range conversationIDs {
		out[id] = acts[i]
	}
	return out, nil
}

// lastMessage returns the seq and time of the conversation's last message, zeros when it has
// none.
func (s *ChatStore) lastMessage(ctx context.Context, tenantID, conversationID string) (int64, time.Time, error) {
	var doc struct {
		Seq       int64     `bson:"seq"`
		CreatedAt time.Time `bson:"created_at"`
	}
	err := s.messages.FindOne(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "conversation_id", Value: conversationID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).
			SetProjection(bson.D{{Key: "seq", Value: 1}, {Key: "created_at", Value: 1}}),
	).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read last message: %w", err)
	}
	return doc.Seq, doc.CreatedAt.UTC(), nil
}
