package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/chat"
	"caas.dev/shared/fault"
)

// maxSeqAttempts bounds the inserts one message may try before giving up. Each lost attempt
// means another message took that seq, so with N concurrent senders a message loses at most
// N-1 times in a row; the bound only stops a pathological loop.
const maxSeqAttempts = 200

// errSeqContention is returned when a message could not claim a seq within maxSeqAttempts.
var errSeqContention = fault.New(fault.Unavailable, "busy_conversation",
	"the conversation is too busy right now; retry the message with the same client_msg_id")

type messageDoc struct {
	ID             string `bson:"_id"`
	TenantID       string `bson:"tenant_id"`
	ConversationID string `bson:"conversation_id"`
	Seq            int64  `bson:"seq"`
	SenderID       string `bson:"sender_id"`
	ClientMsgID    string `bson:"client_msg_id"`
	// BodyCT is the body's ciphertext: the store never holds a plaintext body.
	BodyCT    string    `bson:"body_ct"`
	CreatedAt time.Time `bson:"created_at"`
	Published bool      `bson:"published"`
}

func (d messageDoc) message() chat.Message {
	return chat.Message{
		ID: d.ID, TenantID: d.TenantID, ConversationID: d.ConversationID, Seq: d.Seq,
		SenderID: d.SenderID, ClientMsgID: d.ClientMsgID, BodyCiphertext: d.BodyCT,
		CreatedAt: d.CreatedAt.UTC(), Published: d.Published,
	}
}

// messageKeyDoc settles idempotency: the first insert of a (conversation, sender, client
// message id) claims it and records the message id chosen up front, so a retry after a crash
// completes that same message instead of making a second one. BodyMAC, a keyed MAC of the body
// under the sender's key (never a plain hash, which could be guessed for a short text), tells
// a retry of the same message from another message reusing the client message id.
type messageKeyDoc struct {
	ID        string    `bson:"_id"` // tenant_id|conversation_id|sender_id|client_msg_id
	TenantID  string    `bson:"tenant_id"`
	MessageID string    `bson:"message_id"`
	BodyMAC   string    `bson:"body_mac"`
	CreatedAt time.Time `bson:"created_at"`
}

// AppendMessage implements chat.Store. It claims the message key, then claims the next seq by
// inserting the message under the unique (conversation_id, seq) index, retrying on a duplicate
// with the next free number. The message's own _id makes every racer of one key converge on
// one document. The body is sealed only once the id is settled, since its ciphertext is bound
// to the id.
func (s *ChatStore) AppendMessage(ctx context.Context, m chat.Message, body chat.BodySealer) (chat.Message, bool, error) {
	key := messageKeyDoc{
		ID:        m.TenantID + "|" + m.ConversationID + "|" + m.SenderID + "|" + m.ClientMsgID,
		TenantID:  m.TenantID,
		MessageID: m.ID,
		BodyMAC:   body.MAC(),
		CreatedAt: m.CreatedAt,
	}
	if _, err := s.keys.InsertOne(ctx, key); err != nil {
		if !isDuplicateKey(err) {
			return chat.Message{}, false, fmt.Errorf("claim message key: %w", err)
		}
		var first messageKeyDoc
		err := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: key.ID}, {Key: "tenant_id", Value: m.TenantID}}).Decode(&first)
		if err != nil {
			return chat.Message{}, false, fmt.Errorf("read message key: %w", err)
		}
		same, err := body.SameBody(ctx, first.BodyMAC)
		if err != nil {
			return chat.Message{}, false, err
		}
		if !same {
			return chat.Message{}, false, chat.ErrIdempotencyConflict
		}
		existing, found, err := s.messageByID(ctx, m.TenantID, first.MessageID)
		if err != nil || found {
			return existing, false, err
		}
		// The first attempt claimed the key but has not stored the message (yet, or ever).
		m.ID = first.MessageID
	}

	ct, err := body.Seal(ctx, m.ID)
	if err != nil {
		return chat.Message{}, false, err
	}
	doc := messageDoc{
		ID: m.ID, TenantID: m.TenantID, ConversationID: m.ConversationID, SenderID: m.SenderID,
		ClientMsgID: m.ClientMsgID, BodyCT: ct, CreatedAt: m.CreatedAt,
	}
	next := s.seqs.next(m.ConversationID)
	for range maxSeqAttempts {
		if next == 0 {
			last, err := s.lastSeq(ctx, m.TenantID, m.ConversationID)
			if err != nil {
				return chat.Message{}, false, err
			}
			next = last + 1
		}
		doc.Seq = next
		_, err := s.messages.InsertOne(ctx, doc)
		if err == nil {
			s.seqs.remember(m.ConversationID, doc.Seq)
			return doc.message(), true, nil
		}
		if !isDuplicateKey(err) {
			return chat.Message{}, false, fmt.Errorf("insert message: %w", err)
		}
		// Either another request completed this very message, or another message took the seq.
		existing, found, err := s.messageByID(ctx, m.TenantID, m.ID)
		if err != nil || found {
			return existing, false, err
		}
		next = 0
	}
	return chat.Message{}, false, errSeqContention
}

// seqHints remembers the last seq this process saw claimed in each conversation, so that a
// send usually claims the next one without first reading the highest seq (a scan on FerretDB,
// whose reads use no index). A hint is only ever a seq that exists, and seqs have no gaps, so
// hint+1 is either free, and then exactly the next seq, or taken, and then the insert fails
// with a duplicate key and the store reads the true highest seq. A stale hint costs one
// failed insert; it can never cause a gap.
type seqHints struct {
	mu   sync.Mutex
	last map[string]int64
}

// maxSeqHints bounds the memory of the hints; past it they start over.
const maxSeqHints = 10000

// next returns the seq to try first in the conversation, 0 when there is no hint.
func (h *seqHints) next(conversationID string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.last[conversationID]; ok {
		return s + 1
	}
	return 0
}

// remember records that seq was claimed in the conversation.
func (h *seqHints) remember(conversationID string, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil || len(h.last) >= maxSeqHints {
		h.last = make(map[string]int64)
	}
	if seq > h.last[conversationID] {
		h.last[conversationID] = seq
	}
}

// lastSeq returns the highest seq of the conversation, 0 when it has no message.
func (s *ChatStore) lastSeq(ctx context.Context, tenantID, conversationID string) (int64, error) {
	var doc struct {
		Seq int64 `bson:"seq"`
	}
	err := s.messages.FindOne(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "conversation_id", Value: conversationID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}).SetProjection(bson.D{{Key: "seq", Value: 1}}),
	).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read last seq: %w", err)
	}
	return doc.Seq, nil
}

// messageByID returns the message with the id, found=false when there is none.
func (s *ChatStore) messageByID(ctx context.Context, tenantID, id string) (chat.Message, bool, error) {
	var doc messageDoc
	err := s.messages.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return chat.Message{}, false, nil
	}
	if err != nil {
		return chat.Message{}, false, fmt.Errorf("read message: %w", err)
	}
	return doc.message(), true, nil
}

// ListMessages implements chat.Store.
func (s *ChatStore) ListMessages(ctx context.Context, tenantID, conversationID string, r chat.MessageRange) ([]chat.Message, error) {
	filter := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "conversation_id", Value: conversationID}}
	order := 1
	switch {
	case r.Forward:
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$gt", Value: r.Seq}}})
	case r.Seq > 0:
		filter = append(filter, bson.E{Key: "seq", Value: bson.D{{Key: "$lt", Value: r.Seq}}})
		order = -1
	default:
		order = -1
	}
	var docs []messageDoc
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: order}}).SetLimit(int64(r.Limit))
	if err := findAll(ctx, s.messages, filter, opts, &docs); err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	if order < 0 {
		slices.Reverse(docs)
	}
	out := make([]chat.Message, len(docs))
	for i, d := range docs {
		out[i] = d.message()
	}
	return out, nil
}

// MarkPublished implements chat.Store. Setting a flag to a constant is safe without atomic
// updates: concurrent writers agree on the result.
func (s *ChatStore) MarkPublished(ctx context.Context, tenantID string, messageIDs []string) error {
	if len(messageIDs) == 0 {
		return nil
	}
	_, err := s.messages.UpdateMany(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: messageIDs}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "published", Value: true}}}},
	)
	if err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
}

// Unpublished implements chat.Store. It is the one chat query that spans tenants: the sweeper
// is a platform job with no caller, and each message it returns carries its own tenant, which
// MarkPublished then filters by.
func (s *ChatStore) Unpublished(ctx context.Context, createdBefore time.Time, limit int) ([]chat.Message, error) {
	var docs []messageDoc
	err := findAll(ctx, s.messages,
		bson.D{{Key: "published", Value: false}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: createdBefore}}}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)),
		&docs)
	if err != nil {
		return nil, fmt.Errorf("find unpublished messages: %w", err)
	}
	out := make([]chat.Message, len(docs))
	for i, d := range docs {
		out[i] = d.message()
	}
	return out, nil
}

// MessagesAfter implements chat.Store. Like Unpublished it spans tenants: the re-encryption
// job is a platform job, and each message carries its own tenant.
func (s *ChatStore) MessagesAfter(ctx context.Context, afterID string, limit int) ([]chat.Message, error) {
	filter := bson.D{}
	if afterID != "" {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}}}
	}
	var docs []messageDoc
	err := findAll(ctx, s.messages, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)), &docs)
	if err != nil {
		return nil, fmt.Errorf("find messages: %w", err)
	}
	out := make([]chat.Message, len(docs))
	for i, d := range docs {
		out[i] = d.message()
	}
	return out, nil
}

// SwapBodyCiphertext implements chat.Store. The filter on the old ciphertext keeps a changed
// body from being overwritten. FerretDB v1 applies the update without atomicity, so two racing
// swaps of one body may both match; each writes a ciphertext of the same plaintext and message,
// so either result reads the same.
func (s *ChatStore) SwapBodyCiphertext(ctx context.Context, tenantID, messageID, old, new string) (bool, error) {
	res, err := s.messages.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: messageID}, {Key: "tenant_id", Value: tenantID}, {Key: "body_ct", Value: old}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "body_ct", Value: new}}}},
	)
	if err != nil {
		return false, fmt.Errorf("swap body ciphertext: %w", err)
	}
	return res.ModifiedCount == 1, nil
}

// jobStateDoc is where a platform job stopped.
type jobStateDoc struct {
	ID        string    `bson:"_id"` // the job's name
	Cursor    string    `bson:"cursor"`
	UpdatedAt time.Time `bson:"updated_at"`
}

// JobCursor implements chat.Store.
func (s *ChatStore) JobCursor(ctx context.Context, job string) (string, error) {
	var doc jobStateDoc
	err := s.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: job}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read job state: %w", err)
	}
	return doc.Cursor, nil
}

// SetJobCursor implements chat.Store. Replacing the whole document needs no atomic update:
// runs of a job that overlap only redo each other's work, whichever cursor is kept.
func (s *ChatStore) SetJobCursor(ctx context.Context, job, cursor string) error {
	_, err := s.jobs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: job}},
		jobStateDoc{ID: job, Cursor: cursor, UpdatedAt: time.Now().UTC()},
		options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store job state: %w", err)
	}
	return nil
}
