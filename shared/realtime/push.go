package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
)

// MaxInFlight bounds the pushes to connections running at once for one delivery, so a large
// conversation neither opens thousands of requests at once nor is served one by one.
const MaxInFlight = 32

// Service carries out the realtime use cases: the WebSocket routes, the fan-out of new
// messages, presence and read receipts.
type Service struct {
	Registry Registry
	Pusher   Pusher
	Chat     Chat
	// Clock defaults to the system clock.
	Clock clock.Clock
	// Log is the function's logger; each handler derives its request logger from it.
	Log *slog.Logger
}

// Events pushed to clients. Every event is a JSON object with a "type".
const (
	TypeMessageCreated = chat.EventMessageCreated
	TypeTyping         = "typing"
	TypeRead           = "read"
	TypePresence       = "presence"
	TypeAck            = "ack"
	TypeError          = "error"
	TypePong           = "pong"
)

// MessageJSON is a message as the API shows it, over HTTP and over WebSocket alike.
type MessageJSON struct {
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	Body           string `json:"body"`
	// Erased is true, with an empty body, when the sender's key was destroyed.
	Erased    bool   `json:"erased,omitempty"`
	CreatedAt string `json:"created_at"`
}

// ToMessageJSON returns m as the API shows it.
func ToMessageJSON(m chat.Message) MessageJSON {
	return MessageJSON{ID: m.ID, Seq: m.Seq, ConversationID: m.ConversationID, SenderID: m.SenderID,
		Body: m.Body, Erased: m.Erased, CreatedAt: chat.FormatTime(m.CreatedAt)}
}

// messageEvent is pushed to every member's connections for a new message.
type messageEvent struct {
	Type    string      `json:"type"`
	Message MessageJSON `json:"message"`
}

// typingEvent tells the other members that a user is typing.
type typingEvent struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
}

// readEvent is a read receipt: the user has read the conversation up to seq.
type readEvent struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	Seq            int64  `json:"seq"`
}

// presenceEvent tells the members of a user's conversations that it came online or went
// offline.
type presenceEvent struct {
	Type   string `json:"type"`
	UserID string `json:"user_id"`
	Status string `json:"status"`
}

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// delivery counts what happened to the pushes of one event.
type delivery struct {
	sent, gone, failed atomic.Int64
}

// logger returns the logger the handler put in ctx (edge.WithLogger), which carries the
// request id and tenant.
func (s *Service) logger(ctx context.Context) *slog.Logger { return edge.Logger(ctx) }

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return clock.System{}.Now()
	}
	return s.Clock.Now()
}

// pushToUsers sends event to every live connection of userIDs in the tenant, at most
// MaxInFlight at once. A connection found gone is removed from the registry, exactly that
// one; any other failed push is logged and given up (the pusher has retried throttling
// already). It fails only when the registry cannot be read, so the caller may retry.
func (s *Service) pushToUsers(ctx context.Context, tenantID string, userIDs []string, event any) (*delivery, error) {
	d := &delivery{}
	if len(userIDs) == 0 {
		return d, nil
	}
	data, err := json.Marshal(event)
	if err != nil {
		return d, fmt.Errorf("encode event: %w", err)
	}
	conns, err := s.Registry.Connections(ctx, tenantID, userIDs)
	if err != nil {
		return d, fmt.Errorf("look up connections: %w", err)
	}

	sem := make(chan struct{}, MaxInFlight)
	var wg sync.WaitGroup
	for _, u := range userIDs {
		for _, id := range conns[u] {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.pushOne(ctx, tenantID, id, data, d)
			})
		}
	}
	wg.Wait()
	return d, nil
}

// pushOne sends data to one connection and forgets the connection when it is gone.
func (s *Service) pushOne(ctx context.Context, tenantID, connectionID string, data []byte, d *delivery) {
	err := s.Pusher.PostToConnection(ctx, connectionID, data)
	switch {
	case err == nil:
		d.sent.Add(1)
	case errors.Is(err, ErrGone):
		d.gone.Add(1)
		if s.stillConnecting(ctx, tenantID, connectionID) {
			return
		}
		_, _, rerr := s.Registry.Remove(ctx, tenantID, connectionID)
		if rerr != nil && !errors.Is(rerr, ErrConnectionNotFound) {
			// The entry expires on its own; the next push to it finds it gone again.
			s.logger(ctx).WarnContext(ctx, "forget gone connection", "connection_id", connectionID, "error", rerr.Error())
		}
	default:
		d.failed.Add(1)
		s.logger(ctx).WarnContext(ctx, "push to connection failed; giving up on it",
			"connection_id", connectionID, "error", err.Error())
	}
}

// stillConnecting reports whether the connection registered less than ConnectGrace ago, so
// that its 410 may only mean its $connect has not answered yet. When the registry cannot tell,
// the connection is treated as gone.
func (s *Service) stillConnecting(ctx context.Context, tenantID, connectionID string) bool {
	c, err := s.Registry.Get(ctx, tenantID, connectionID)
	if err != nil {
		return false
	}
	return s.now().Sub(c.ConnectedAt) < ConnectGrace
}

// others returns userIDs without userID, in order.
func others(userIDs []string, userID string) []string {
	return slices.DeleteFunc(slices.Clone(userIDs), func(u string) bool { return u == userID })
}

// reply sends event to the caller's own connection. A gone connection is not an error: the
// client left before its answer.
func (s *Service) reply(ctx context.Context, connectionID string, event any) {
	data, err := json.Marshal(event)
	if err != nil {
		s.logger(ctx).ErrorContext(ctx, "encode reply", "error", err.Error())
		return
	}
	if err := s.Pusher.PostToConnection(ctx, connectionID, data); err != nil && !errors.Is(err, ErrGone) {
		s.logger(ctx).WarnContext(ctx, "reply to connection failed", "connection_id", connectionID, "error", err.Error())
	}
}
