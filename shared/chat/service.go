package chat

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/ids"
)

// Tuning of publication.
const (
	// PublishTimeout bounds the wait for Kafka inside a request: past it the message stays
	// stored and unpublished, and the sweeper or the client's retry publishes it.
	PublishTimeout = 3 * time.Second
	// PendingAge is how old an unpublished message must be before the sweeper takes it, so it
	// does not race the request that stored it and is still publishing.
	PendingAge = 5 * time.Second
	// SweepBatch is how many messages the sweeper publishes at a time.
	SweepBatch = 100
	// sweepMargin is the time left before the function's deadline at which the sweeper stops
	// taking new batches.
	sweepMargin = 2 * time.Second
)

// Deps are what a Service consumes. Clock and IDs default to the system clock and random ids.
// Keys is needed only by CreateConversation, and only for requests with an Idempotency-Key.
// Cipher is required by everything that writes or reads message bodies.
type Deps struct {
	Store     Store
	Directory Directory
	Publisher Publisher
	Keys      idempotency.Store
	Cipher    Cipher
	Clock     clock.Clock
	IDs       ids.Generator
}

// Service carries out the chat use cases for an authenticated caller.
type Service struct {
	store  Store
	dir    Directory
	pub    Publisher
	keys   idempotency.Store
	cipher Cipher
	clock  clock.Clock
	ids    ids.Generator
}

// NewService returns a Service over d.
func NewService(d Deps) *Service {
	s := &Service{store: d.Store, dir: d.Directory, pub: d.Publisher, keys: d.Keys, cipher: d.Cipher, clock: d.Clock, ids: d.IDs}
	if s.clock == nil {
		s.clock = clock.System{}
	}
	if s.ids == nil {
		s.ids = ids.Random{}
	}
	return s
}

// createConversationOp names conversation creation in the scope of its idempotency keys.
const createConversationOp = "conversations.create"

// CreateConversation creates a conversation of callerID's tenant with callerID as a member. A
// direct conversation is opened rather than created when the pair has one already: created is
// then false and the existing conversation is returned.
//
// With a key in r, the request is settled first (idempotency.Settle, scoped to the tenant, the
// caller and the operation): a repeat of the same request returns the conversation the first
// made or opened, with the same created, completing it under the remembered id if the first
// attempt stopped halfway; a different request with the key fails with idempotency.ErrConflict.
// Requests refused before the key is settled (invalid input, unknown members) leave it unused.
func (s *Service) CreateConversation(ctx context.Context, tenantID, callerID string, in NewConversation, r idempotency.Request) (Conversation, bool, error) {
	members, err := in.normalize(callerID)
	if err != nil {
		return Conversation{}, false, err
	}
	missing, err := s.dir.Missing(ctx, tenantID, members[1:])
	if err != nil {
		return Conversation{}, false, fmt.Errorf("check members: %w", err)
	}
	if len(missing) > 0 {
		// The ids are the caller's own input: naming them tells nothing about other tenants.
		return Conversation{}, false, fault.WithDetail(ErrUnknownMembers,
			"not users of this tenant: "+strings.Join(missing, ", "))
	}

	c := Conversation{
		ID:        s.ids.New(ids.Conversation),
		TenantID:  tenantID,
		Type:      in.Type,
		Title:     in.Title,
		Members:   members,
		CreatedBy: callerID,
		CreatedAt: s.clock.Now(),
	}
	if r.Key != "" {
		scope := createConversationOp + "|" + tenantID + "|" + callerID
		held, _, err := idempotency.Settle(ctx, s.keys, scope, r, c.ID, c.CreatedAt)
		if err != nil {
			return Conversation{}, false, fmt.Errorf("create conversation: %w", err)
		}
		c.ID, c.CreatedAt = held.ResourceID, held.CreatedAt
	}

	if c.Type == TypeDirect {
		conv, created, err := s.store.OpenDirect(ctx, c)
		if err != nil {
			return Conversation{}, false, fmt.Errorf("open direct conversation: %w", err)
		}
		if r.Key != "" {
			// The key's request created the conversation exactly when the pair took the id the
			// key remembers; deciding so (rather than by who inserted) answers every repeat as
			// the first was answered.
			created = conv.ID == c.ID
		}
		return conv, created, nil
	}
	// A group's id is fresh or the key's own, so the conversation is this request's creation
	// even when an earlier attempt of it stored it.
	conv, _, err := s.store.CreateConversation(ctx, c)
	if err != nil {
		return Conversation{}, false, fmt.Errorf("create conversation: %w", err)
	}
	return conv, true, nil
}

// ConversationPage is one page of a caller's conversations, newest first. Activity holds where
// each listed conversation stands for the caller, by conversation id.
type ConversationPage struct {
	Items      []Conversation
	Activity   map[string]Activity
	NextCursor string
}

// ListConversations returns a page of userID's conversations, newest first, continuing after
// cursor (empty for the first page). limit must be in [1, MaxConversationLimit].
func (s *Service) ListConversations(ctx context.Context, tenantID, userID, cursor string, limit int) (ConversationPage, error) {
	var before string
	if cursor != "" {
		var err error
		if before, err = decodeConversationCursor(cursor); err != nil {
			return ConversationPage{}, err
		}
	}
	items, err := s.store.ListConversations(ctx, tenantID, userID, before, limit+1)
	if err != nil {
		return ConversationPage{}, fmt.Errorf("list conversations: %w", err)
	}
	page := ConversationPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeConversationCursor(page.Items[limit-1].ID)
	}
	convIDs := make([]string, len(page.Items))
	for i, c := range page.Items {
		convIDs[i] = c.ID
	}
	if page.Activity, err = s.store.Activity(ctx, tenantID, userID, convIDs); err != nil {
		return ConversationPage{}, fmt.Errorf("read conversation activity: %w", err)
	}
	return page, nil
}

// SendMessage stores a message from senderID in the conversation, its body sealed under the
// sender's key, and publishes its event. A repeated client message id returns the first
// message with created=false (and publishes it if that had not happened). A failed
// publication does not fail the send: the message is durable and the sweeper publishes it
// later.
func (s *Service) SendMessage(ctx context.Context, tenantID, senderID, conversationID string, in NewMessage) (Message, bool, error) {
	if err := in.validate(); err != nil {
		return Message{}, false, err
	}
	if err := s.requireMember(ctx, tenantID, conversationID, senderID); err != nil {
		return Message{}, false, err
	}

	m := Message{
		ID:             s.ids.New(ids.Message),
		TenantID:       tenantID,
		ConversationID: conversationID,
		SenderID:       senderID,
		ClientMsgID:    in.ClientMsgID,
		Body:           in.Body,
		CreatedAt:      s.clock.Now(),
	}
	body, err := NewBodySealer(ctx, s.cipher, m)
	if err != nil {
		return Message{}, false, err
	}
	m.Body = "" // the store gets the body only from the sealer
	m, created, err := s.store.AppendMessage(ctx, m, body)
	if err != nil {
		return Message{}, false, fmt.Errorf("store message: %w", err)
	}
	// The stored message is this body's: it was sealed from it, or its MAC matched it.
	m.Body = in.Body

	if created {
		// A sender has read what it sent: its own messages never count as unread for it.
		if err := s.store.MarkRead(ctx, tenantID, conversationID, senderID, m.Seq); err != nil {
			edge.Logger(ctx).WarnContext(ctx, "message stored but the sender's read position was not",
				"message_id", m.ID, "conversation_id", m.ConversationID, "error", err.Error())
		}
	}
	if !m.Published {
		if err := s.publish(ctx, []Message{m}); err != nil {
			edge.Logger(ctx).WarnContext(ctx, "message stored but not published; the sweeper will retry",
				"message_id", m.ID, "conversation_id", m.ConversationID, "error", err.Error())
		} else {
			m.Published = true
		}
	}
	return m, created, nil
}

// requireMember returns ErrConversationNotFound unless userID is a member of the conversation.
func (s *Service) requireMember(ctx context.Context, tenantID, conversationID, userID string) error {
	if !ids.Valid(ids.Conversation, conversationID) {
		return ErrConversationNotFound
	}
	if _, err := s.store.MemberConversation(ctx, tenantID, conversationID, userID); err != nil {
		if errors.Is(err, ErrConversationNotFound) {
			return err
		}
		return fmt.Errorf("check membership: %w", err)
	}
	return nil
}

// publish hands the messages' events to the publisher and marks them published.
func (s *Service) publish(ctx context.Context, msgs []Message) error {
	events := make([]MessageCreated, len(msgs))
	for i, m := range msgs {
		events[i] = EventFor(m)
	}
	pctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	err := s.pub.PublishMessages(pctx, events)
	cancel()
	if err != nil {
		return fmt.Errorf("publish %d message events: %w", len(events), err)
	}

	byTenant := map[string][]string{}
	for _, m := range msgs {
		byTenant[m.TenantID] = append(byTenant[m.TenantID], m.ID)
	}
	for tenantID, msgIDs := range byTenant {
		// A failure here only means the events may be published again: consumers already
		// receive at least once and deduplicate by message id.
		if err := s.store.MarkPublished(ctx, tenantID, msgIDs); err != nil {
			return fmt.Errorf("mark messages published: %w", err)
		}
	}
	return nil
}

// PublishPending publishes every message left unpublished for longer than PendingAge, oldest
// first, in batches of SweepBatch, until none is left or ctx's deadline comes near. It returns
// how many it published.
func (s *Service) PublishPending(ctx context.Context) (int, error) {
	total := 0
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < sweepMargin {
			return total, nil
		}
		msgs, err := s.store.Unpublished(ctx, s.clock.Now().Add(-PendingAge), SweepBatch)
		if err != nil {
			return total, fmt.Errorf("find unpublished messages: %w", err)
		}
		if len(msgs) == 0 {
			return total, nil
		}
		if err := s.publish(ctx, msgs); err != nil {
			return total, err
		}
		total += len(msgs)
		if len(msgs) < SweepBatch {
			return total, nil
		}
	}
}
