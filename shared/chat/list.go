package chat

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// Page sizes of the list endpoints.
const (
	// DefaultConversationLimit is the page size of GET /v1/conversations without ?limit.
	DefaultConversationLimit = 20
	// MaxConversationLimit is the largest ?limit GET /v1/conversations accepts.
	MaxConversationLimit = 100
	// DefaultMessageLimit is the page size of GET /v1/conversations/{id}/messages without ?limit.
	DefaultMessageLimit = 50
	// MaxMessageLimit is the largest ?limit the message list accepts.
	MaxMessageLimit = 200
)

// MessageQuery selects a page of a conversation's messages. At most one of After, Before and
// Cursor is set; with none, the page holds the newest messages.
type MessageQuery struct {
	After  *int64 // messages with a greater seq, oldest first
	Before *int64 // the newest messages with a smaller seq
	Cursor string // continues a previous page in its direction
	Limit  int
}

// ParseMessageQuery reads the query parameters of the message list. Every value is optional;
// numbers that are not integers in range, or after and before together, are ErrInvalidQuery.
func ParseMessageQuery(after, before, cursor, limit string) (MessageQuery, error) {
	q := MessageQuery{Cursor: cursor, Limit: DefaultMessageLimit}
	set := 0
	for _, p := range []struct {
		name, value string
		min         int64
		dst         **int64
	}{
		{"after", after, 0, &q.After},
		{"before", before, 1, &q.Before},
	} {
		if p.value == "" {
			continue
		}
		n, err := strconv.ParseInt(p.value, 10, 64)
		if err != nil || n < p.min || n == math.MaxInt64 {
			return MessageQuery{}, fault.WithDetail(edge.ErrInvalidQuery,
				fmt.Sprintf("%s: must be an integer from %d to %d", p.name, p.min, int64(math.MaxInt64-1)))
		}
		*p.dst = &n
		set++
	}
	if cursor != "" {
		set++
	}
	if set > 1 {
		return MessageQuery{}, fault.WithDetail(edge.ErrInvalidQuery, "after, before and cursor exclude each other")
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxMessageLimit {
			return MessageQuery{}, fault.WithDetail(edge.ErrInvalidQuery,
				fmt.Sprintf("limit: must be an integer from 1 to %d", MaxMessageLimit))
		}
		q.Limit = n
	}
	return q, nil
}

// MessagePage is one page of a conversation's messages, always in ascending seq order.
// NextCursor continues in the page's direction and is empty when nothing more is there.
type MessagePage struct {
	Items      []Message
	NextCursor string
}

// ListMessages returns a page of the conversation's messages to a member of it, their bodies
// decrypted; a message whose sender's key was destroyed is Erased, with an empty body.
func (s *Service) ListMessages(ctx context.Context, tenantID, userID, conversationID string, q MessageQuery) (MessagePage, error) {
	if q.Limit < 1 || q.Limit > MaxMessageLimit {
		return MessagePage{}, fault.WithDetail(edge.ErrInvalidQuery,
			fmt.Sprintf("limit: must be an integer from 1 to %d", MaxMessageLimit))
	}
	if err := s.requireMember(ctx, tenantID, conversationID, userID); err != nil {
		return MessagePage{}, err
	}

	r := MessageRange{Limit: q.Limit + 1}
	switch {
	case q.Cursor != "":
		var err error
		if r.Forward, r.Seq, err = decodeMessageCursor(q.Cursor, conversationID); err != nil {
			return MessagePage{}, err
		}
	case q.After != nil:
		r.Forward, r.Seq = true, *q.After
	case q.Before != nil:
		r.Seq = *q.Before
	}
	items, err := s.store.ListMessages(ctx, tenantID, conversationID, r)
	if err != nil {
		return MessagePage{}, fmt.Errorf("list messages: %w", err)
	}

	for i := range items {
		if err := s.open(ctx, &items[i]); err != nil {
			return MessagePage{}, err
		}
	}

	// One more than asked tells whether the direction holds more, without a count.
	page := MessagePage{Items: items}
	if len(items) > q.Limit {
		if r.Forward {
			page.Items = items[:q.Limit]
			page.NextCursor = encodeMessageCursor(conversationID, true, page.Items[q.Limit-1].Seq)
		} else {
			page.Items = items[1:]
			page.NextCursor = encodeMessageCursor(conversationID, false, page.Items[0].Seq)
		}
	}
	if n := len(page.Items); n > 0 {
		// Reading a page is reading its messages. The page is served even when the position
		// cannot be stored: the reader has the messages, and the next read or MarkRead
		// moves the position on.
		last := page.Items[n-1].Seq
		if err := s.store.MarkRead(ctx, tenantID, conversationID, userID, last); err != nil {
			edge.Logger(ctx).WarnContext(ctx, "messages listed but the read position was not stored",
				"conversation_id", conversationID, "seq", last, "error", err.Error())
		}
	}
	return page, nil
}
