// Package realtime holds the rules of the WebSocket side of chat: which connections a user
// holds, what a client may send over its connection (sendMessage, typing, markRead, ping), who
// receives each push (messages, typing, read receipts, presence), and how a connection found
// gone is forgotten. It declares the small interfaces it consumes: a connection Registry
// (package redis implements it), a Pusher (the API Gateway management API, package apigw) and
// the chat operations it calls (Chat, implemented by *chat.Service).
//
// Every push is scoped to one tenant: recipients are members of a conversation of the tenant,
// and their connections are looked up under that tenant only.
package realtime

import (
	"context"
	"errors"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/fault"
)

// MaxConnectionAge is API Gateway's limit on a WebSocket connection. ConnectionTTL, a little
// longer, is how long the registry keeps a connection that was never removed (its $disconnect
// was lost), so stale entries disappear on their own.
const (
	MaxConnectionAge = 2 * time.Hour
	ConnectionTTL    = MaxConnectionAge + 10*time.Minute
)

// Connection is one open WebSocket connection of a user: one per device or tab.
type Connection struct {
	ID          string
	TenantID    string
	UserID      string
	ConnectedAt time.Time
}

// Registry keeps the open connections of each tenant's users. Every method is scoped to one
// tenant: a connection of another tenant is never listed, returned or removed. An entry older
// than the registry's TTL counts as gone.
type Registry interface {
	// Add records c. first is true when c is now the user's only live connection.
	Add(ctx context.Context, c Connection) (first bool, err error)

	// Remove forgets the connection id of the tenant, exactly that one. It returns the
	// removed connection and last=true when its user has no live connection left, or
	// ErrConnectionNotFound when the tenant has no such connection.
	Remove(ctx context.Context, tenantID, connectionID string) (c Connection, last bool, err error)

	// Connections returns the live connection ids of each of userIDs; a user without any is
	// absent from the map.
	Connections(ctx context.Context, tenantID string, userIDs []string) (map[string][]string, error)

	// Get returns the connection id of the tenant, or ErrConnectionNotFound.
	Get(ctx context.Context, tenantID, connectionID string) (Connection, error)
}

// ConnectGrace is how long a new connection may answer 410 without being forgotten. API
// Gateway refuses pushes to a connection until its $connect integration has answered, which
// may take up to 29 seconds, and WsConnect registers the connection (and tells others it is
// online) before answering: a push racing another member's connect must not erase it.
const ConnectGrace = 30 * time.Second

// Pusher delivers one message to one WebSocket connection, as the API Gateway management API's
// PostToConnection does. It returns an error matching ErrGone when the connection no longer
// exists (410); any other error means this push failed, after the pusher's own retries.
type Pusher interface {
	PostToConnection(ctx context.Context, connectionID string, data []byte) error
}

// Chat is what realtime asks of the chat domain; *chat.Service implements it. Errors a client
// may see are *fault.Error values (chat.ErrConversationNotFound for a non-member); any other
// error is a broken backend.
type Chat interface {
	// SendMessage stores a message once per client message id, as POST .../messages does.
	SendMessage(ctx context.Context, tenantID, senderID, conversationID string, in chat.NewMessage) (chat.Message, bool, error)
	// MarkRead moves userID's read position forward to seq (clamped to the last message).
	MarkRead(ctx context.Context, tenantID, userID, conversationID string, seq int64) (chat.ReadState, error)
	// Members returns the member ids of the conversation, for system use (no caller check).
	Members(ctx context.Context, tenantID, conversationID string) ([]string, error)
	// Message returns a stored message by id, for system use.
	Message(ctx context.Context, tenantID, messageID string) (chat.Message, error)
	// ConversationIDsOf returns up to max ids of the user's conversations.
	ConversationIDsOf(ctx context.Context, tenantID, userID string, max int) ([]string, error)
	// RequireMember returns chat.ErrConversationNotFound unless userID is a member.
	RequireMember(ctx context.Context, tenantID, userID, conversationID string) error
}

// Failures of the realtime domain.
var (
	// ErrGone is matched by a Pusher's error for a connection that no longer exists.
	ErrGone = errors.New("the connection is gone")
	// ErrConnectionNotFound is returned by Registry.Remove for an unknown connection.
	ErrConnectionNotFound = errors.New("connection not found")
	// ErrNotConnected is returned by the WebSocket handlers when API Gateway's event carries no
	// authorized caller: a route reached without the $connect authorizer.
	ErrNotConnected = fault.New(fault.Unauthorized, "not_connected", "the connection has no authorized caller")
)

// isClientFault reports whether err is a failure the caller caused (bad input, not a member,
// a missing resource) rather than a broken backend.
func isClientFault(err error) bool {
	fe := fault.As(err)
	return fe != nil && fe.Kind != fault.Internal && fe.Kind != fault.Unavailable
}

// isNotFound reports whether err says a resource does not exist.
func isNotFound(err error) bool {
	fe := fault.As(err)
	return fe != nil && fe.Kind == fault.NotFound
}

// *chat.Service is the Chat the functions use.
var _ Chat = (*chat.Service)(nil)
