// Package chat holds the rules of conversations and messages: who may open a conversation with
// whom, how a message is accepted exactly once and numbered without gaps, how lists are paged,
// and when a stored message is handed to the event stream. It declares the small interfaces it
// consumes (Store, Directory, Publisher); package mongo and package kafka implement them.
package chat

import (
	"context"
	"time"

	"caas.dev/shared/fault"
)

// Conversation types.
const (
	TypeGroup  = "group"
	TypeDirect = "direct"
)

// Conversation is a group or a direct (two-person) conversation of one tenant.
type Conversation struct {
	ID        string
	TenantID  string
	Type      string
	Title     string
	Members   []string
	CreatedBy string
	CreatedAt time.Time
}

// Message is one message of a conversation. Seq numbers a conversation's messages from 1 with
// no gaps. Published reports whether the message's event has reached Kafka.
//
// BodyCiphertext is the body sealed under the sender's own key, bound to the conversation and
// message ids (see BodyContext): the only form of the body a Store keeps or an event carries.
// Body is the plaintext, filled in by the Service for its callers and never stored. Erased is
// set, with an empty Body, when the sender's key was destroyed: the body cannot be read again.
type Message struct {
	ID             string
	TenantID       string
	ConversationID string
	SenderID       string
	ClientMsgID    string
	Body           string
	BodyCiphertext string
	Erased         bool
	Seq            int64
	CreatedAt      time.Time
	Published      bool
}

// BodyContext is the context a message body is sealed with: it binds the ciphertext to its
// conversation and message, so a body copied onto another message does not open. The key
// service binds the tenant and the key itself.
func BodyContext(conversationID, messageID string) []byte {
	return []byte("message\x00" + conversationID + "\x00" + messageID)
}

// Cipher seals message bodies under their sender's own key (wrapped under the tenant's key, so
// destroying the user's key shreds every body the user sent) and fingerprints them with keyed
// MACs. *keys.Service satisfies it.
type Cipher interface {
	// EncryptForUser seals plaintext under the user's key, bound to context.
	EncryptForUser(ctx context.Context, tenantID, userID string, plaintext, context []byte) (string, error)
	// Decrypt opens a ciphertext of the tenant's; errors wrap keys.ErrKeyShredded when its
	// key was destroyed.
	Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error)
	// Rewrap seals a ciphertext again under its key's primary version, reporting whether it
	// changed.
	Rewrap(ctx context.Context, tenantID, ciphertext string, context []byte) (string, bool, error)
	// MACForUser returns the keyed MAC of data under the user's key.
	MACForUser(ctx context.Context, tenantID, userID string, data []byte) (string, error)
	// VerifyMAC reports whether mac is the MAC of data, whichever version of the key made it.
	VerifyMAC(ctx context.Context, tenantID, mac string, data []byte) (bool, error)
}

// BodySealer hands a new message's body to Store.AppendMessage in the only forms the store
// may keep: a keyed MAC for the idempotency record and, once the message's final id is known,
// its ciphertext. The Service provides it.
type BodySealer interface {
	// MAC is the keyed fingerprint of the body, its conversation and its client message id.
	MAC() string
	// Seal returns the body sealed for the message with the id.
	Seal(ctx context.Context, messageID string) (string, error)
	// SameBody reports whether storedMAC, the MAC an earlier attempt with the same client
	// message id recorded, is of this body (also when the key was rotated in between).
	SameBody(ctx context.Context, storedMAC string) (bool, error)
}

// Failures of the chat domain. Their codes are part of the API contract.
var (
	// ErrConversationNotFound is returned for an unknown or ill-formed conversation id, another
	// tenant's conversation, and a conversation the caller is not a member of: a non-member
	// learns nothing about whether it exists.
	ErrConversationNotFound = fault.New(fault.NotFound, "conversation_not_found", "the conversation does not exist")
	// ErrUnknownMembers is returned when a member of a new conversation is not a user of the
	// caller's tenant.
	ErrUnknownMembers = fault.New(fault.Invalid, "unknown_members", "some members are not users of this tenant")
	// ErrIdempotencyConflict is returned when a client_msg_id is reused with a different body.
	ErrIdempotencyConflict = fault.New(fault.Conflict, "idempotency_conflict",
		"this client_msg_id was already used for a different message")
	// ErrInvalidCursor is returned for a cursor this service did not issue.
	ErrInvalidCursor = fault.New(fault.Invalid, "invalid_cursor", "the cursor is not valid")
	// ErrMessageNotFound is returned for an unknown or ill-formed message id and for another
	// tenant's message.
	ErrMessageNotFound = fault.New(fault.NotFound, "message_not_found", "the message does not exist")
	// ErrInvalidReadSeq is returned when a read position is negative.
	ErrInvalidReadSeq = fault.New(fault.Invalid, "invalid_seq", "seq must be an integer of at least 0")
)

// Store keeps conversations, memberships and messages. Every method is scoped to one tenant
// except Unpublished, the sweeper's platform-wide query. Implementations must hold their
// guarantees under concurrent callers on a store whose updates are not atomic (FerretDB v1):
// uniqueness and numbering come from inserts into unique indexes.
type Store interface {
	// CreateConversation stores c and a membership for each of c.Members, and returns c with
	// created=true. It is re-entrant by id: when a conversation with c.ID is stored already (an
	// earlier attempt of the same request, or a racing one, got there first) it completes any
	// missing memberships and returns the stored conversation with created=false. A
	// conversation is never returned by MemberConversation or ListConversations before all its
	// memberships are stored.
	CreateConversation(ctx context.Context, c Conversation) (stored Conversation, created bool, err error)

	// OpenDirect returns the direct conversation between the two members of c, storing c when
	// the pair has none. created is true for exactly one of any number of concurrent callers.
	// If an earlier call stopped halfway, the existing pair's conversation is completed.
	OpenDirect(ctx context.Context, c Conversation) (conv Conversation, created bool, err error)

	// MemberConversation returns the conversation when userID is a member of it, and
	// ErrConversationNotFound otherwise (also for another tenant's conversation).
	MemberConversation(ctx context.Context, tenantID, conversationID, userID string) (Conversation, error)

	// ListConversations returns up to limit of userID's conversations, newest first (by id),
	// whose ids sort before beforeID; an empty beforeID starts at the newest.
	ListConversations(ctx context.Context, tenantID, userID, beforeID string, limit int) ([]Conversation, error)

	// AppendMessage stores m, with the body body seals for its final id, under the next seq of
	// its conversation, unless a message with the same conversation, sender and client message
	// id exists: then it returns that message and created=false, or ErrIdempotencyConflict
	// when body.SameBody denies the recorded MAC. m.ID is used only when the message is new
	// (a claim left by an earlier attempt decides the id otherwise); m.Body is ignored and
	// never stored. created is true for exactly one of any number of concurrent callers with
	// the same key. The returned message has Seq and BodyCiphertext set and no Body.
	AppendMessage(ctx context.Context, m Message, body BodySealer) (stored Message, created bool, err error)

	// ListMessages returns up to limit messages of the conversation in ascending seq order:
	// with Forward, those with seq > seq; otherwise the newest with seq < seq (no bound when seq
	// is 0).
	ListMessages(ctx context.Context, tenantID, conversationID string, q MessageRange) ([]Message, error)

	// MarkPublished records that the messages' events reached Kafka.
	MarkPublished(ctx context.Context, tenantID string, messageIDs []string) error

	// Unpublished returns up to limit messages of any tenant not yet published and created
	// before the given time, oldest first.
	Unpublished(ctx context.Context, createdBefore time.Time, limit int) ([]Message, error)

	// Message returns the tenant's message with the id, or ErrMessageNotFound.
	Message(ctx context.Context, tenantID, messageID string) (Message, error)

	// Members returns the members of the tenant's conversation, or ErrConversationNotFound.
	Members(ctx context.Context, tenantID, conversationID string) ([]string, error)

	// MarkRead raises userID's read position in the conversation to at least seq; it never
	// lowers it, also under concurrent callers. The caller checks membership and clamps seq to
	// the conversation's last seq.
	MarkRead(ctx context.Context, tenantID, conversationID, userID string, seq int64) error

	// MessagesAfter returns up to limit messages of any tenant whose ids sort after afterID
	// (empty: from the first), ascending by id, for the re-encryption job.
	MessagesAfter(ctx context.Context, afterID string, limit int) ([]Message, error)

	// SwapBodyCiphertext replaces the tenant's message's body ciphertext old by new, only when
	// the message still holds old; it reports whether it did.
	SwapBodyCiphertext(ctx context.Context, tenantID, messageID, old, new string) (bool, error)

	// JobCursor returns where the named platform job stopped ("" when it has not run or
	// finished its last pass); SetJobCursor records it.
	JobCursor(ctx context.Context, job string) (string, error)
	SetJobCursor(ctx context.Context, job, cursor string) error

	// Activity returns, for each of conversationIDs, its last message's seq and time and
	// userID's read position in it. The caller passes only conversations userID is a member
	// of. Conversations without a message have LastSeq 0 and a zero LastMessageAt. At most
	// MaxConversationLimit ids are asked at once.
	Activity(ctx context.Context, tenantID, userID string, conversationIDs []string) (map[string]Activity, error)
}

// MessageRange selects a slice of a conversation's messages for Store.ListMessages.
type MessageRange struct {
	Forward bool
	Seq     int64
	Limit   int
}

// Directory answers questions about users.
type Directory interface {
	// Missing returns those of userIDs that are not users of the tenant, in the order given.
	Missing(ctx context.Context, tenantID string, userIDs []string) ([]string, error)
}

// Publisher hands message events to the event stream.
type Publisher interface {
	// PublishMessages writes the events, each keyed by its conversation id so one
	// conversation's events stay in order. It returns once every event is acknowledged, or an
	// error when any may not be.
	PublishMessages(ctx context.Context, events []MessageCreated) error
}

// EventMessageCreated is the type of the event published for a new message.
const EventMessageCreated = "message.created"

// MessageCreated is the event published for every stored message. It carries the body only as
// the ciphertext the store keeps (sealed under the sender's key, bound to the conversation and
// message ids), never as plaintext, so the event log and its backups hold nothing that erasing
// the sender's key does not shred.
type MessageCreated struct {
	Type           string `json:"type"`
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	Seq            int64  `json:"seq"`
	SenderID       string `json:"sender_id"`
	BodyCiphertext string `json:"body_ciphertext"`
	CreatedAt      string `json:"created_at"`
}

// TimeFormat is how times leave the service: RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatTime formats t with TimeFormat in UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// EventFor returns the event announcing m.
func EventFor(m Message) MessageCreated {
	return MessageCreated{
		Type:           EventMessageCreated,
		TenantID:       m.TenantID,
		ConversationID: m.ConversationID,
		MessageID:      m.ID,
		Seq:            m.Seq,
		SenderID:       m.SenderID,
		BodyCiphertext: m.BodyCiphertext,
		CreatedAt:      FormatTime(m.CreatedAt),
	}
}
