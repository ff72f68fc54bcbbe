package chat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/ids"
)

// Activity is where a conversation stands for one member: the seq and time of its last message
// and how far the member has read.
type Activity struct {
	LastSeq       int64
	LastMessageAt time.Time // zero when the conversation has no message
	ReadSeq       int64
}

// Unread returns how many messages the member has not read, never negative.
func (a Activity) Unread() int64 { return max(a.LastSeq-a.ReadSeq, 0) }

// ReadState is a member's read position in a conversation after MarkRead.
type ReadState struct {
	ConversationID string
	ReadSeq        int64
	LastSeq        int64
	Unread         int64
}

// MarkRead moves userID's read position in the conversation forward to seq and returns where it
// stands. The position never moves backward: a seq at or below it changes nothing. A seq past
// the conversation's last message is taken as the last message. A non-member, or anyone of
// another tenant, gets ErrConversationNotFound; a negative seq is ErrInvalidReadSeq. Under a
// racing MarkRead or read of the same member the answer may show a lower position than the one
// stored, never a higher one.
func (s *Service) MarkRead(ctx context.Context, tenantID, userID, conversationID string, seq int64) (ReadState, error) {
	if seq < 0 {
		return ReadState{}, ErrInvalidReadSeq
	}
	if err := s.requireMember(ctx, tenantID, conversationID, userID); err != nil {
		return ReadState{}, err
	}
	act, err := s.activityOf(ctx, tenantID, userID, conversationID)
	if err != nil {
		return ReadState{}, err
	}
	// Clamp to the last message: a position past it would hide the next messages from the
	// unread count. The last seq read just now can only have grown since, so the clamp never
	// takes the position past a message that does not exist.
	seq = min(seq, act.LastSeq)
	if seq > act.ReadSeq {
		if err := s.store.MarkRead(ctx, tenantID, conversationID, userID, seq); err != nil {
			return ReadState{}, fmt.Errorf("mark read: %w", err)
		}
		act.ReadSeq = seq
	}
	return ReadState{
		ConversationID: conversationID,
		ReadSeq:        act.ReadSeq,
		LastSeq:        act.LastSeq,
		Unread:         act.Unread(),
	}, nil
}

// activityOf returns userID's activity in one conversation.
func (s *Service) activityOf(ctx context.Context, tenantID, userID, conversationID string) (Activity, error) {
	acts, err := s.store.Activity(ctx, tenantID, userID, []string{conversationID})
	if err != nil {
		return Activity{}, fmt.Errorf("read activity: %w", err)
	}
	return acts[conversationID], nil
}

// RequireMember returns ErrConversationNotFound unless userID is a member of the tenant's
// conversation.
func (s *Service) RequireMember(ctx context.Context, tenantID, userID, conversationID string) error {
	return s.requireMember(ctx, tenantID, conversationID, userID)
}

// Members returns the members of the tenant's conversation, or ErrConversationNotFound. It is
// for the platform's own use (delivering a message to its conversation): it checks no caller.
func (s *Service) Members(ctx context.Context, tenantID, conversationID string) ([]string, error) {
	if !ids.Valid(ids.Conversation, conversationID) {
		return nil, ErrConversationNotFound
	}
	members, err := s.store.Members(ctx, tenantID, conversationID)
	if err != nil {
		if errors.Is(err, ErrConversationNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("read members: %w", err)
	}
	return members, nil
}

// Message returns the tenant's message with the id, its body decrypted (or Erased), or
// ErrMessageNotFound. It is for the platform's own use (delivering a message event): it checks
// no caller.
func (s *Service) Message(ctx context.Context, tenantID, messageID string) (Message, error) {
	if !ids.Valid(ids.Message, messageID) {
		return Message{}, ErrMessageNotFound
	}
	m, err := s.store.Message(ctx, tenantID, messageID)
	if err != nil {
		if errors.Is(err, ErrMessageNotFound) {
			return Message{}, err
		}
		return Message{}, fmt.Errorf("read message: %w", err)
	}
	if err := s.open(ctx, &m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// ConversationIDsOf returns the ids of up to limit of userID's conversations, newest first.
// limit must be at least 1.
func (s *Service) ConversationIDsOf(ctx context.Context, tenantID, userID string, limit int) ([]string, error) {
	if limit < 1 {
		return nil, fmt.Errorf("conversation ids: limit %d, want at least 1", limit)
	}
	convs, err := s.store.ListConversations(ctx, tenantID, userID, "", limit)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	out := make([]string, len(convs))
	for i, c := range convs {
		out[i] = c.ID
	}
	return out, nil
}
