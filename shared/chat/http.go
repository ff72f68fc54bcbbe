package chat

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
	"caas.dev/shared/idempotency"
)

// Handlers are the HTTP endpoints of the chat domain, one per function.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the endpoints over svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// conversationJSON is a conversation as the API shows it.
type conversationJSON struct {
	ID        string   `json:"id"`
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Members   []string `json:"members"`
	CreatedBy string   `json:"created_by"`
	CreatedAt string   `json:"created_at"`
}

// conversationItemJSON is a conversation as the caller's list shows it: with where it stands
// for the caller. LastMessageAt is omitted while the conversation has no message.
type conversationItemJSON struct {
	conversationJSON
	LastSeq       int64  `json:"last_seq"`
	LastMessageAt string `json:"last_message_at,omitempty"`
	UnreadCount   int64  `json:"unread_count"`
}

func toConversationItemJSON(c Conversation, a Activity) conversationItemJSON {
	item := conversationItemJSON{conversationJSON: toConversationJSON(c), LastSeq: a.LastSeq, UnreadCount: a.Unread()}
	if !a.LastMessageAt.IsZero() {
		item.LastMessageAt = FormatTime(a.LastMessageAt)
	}
	return item
}

func toConversationJSON(c Conversation) conversationJSON {
	return conversationJSON{
		ID:        c.ID,
		Type:      c.Type,
		Title:     c.Title,
		Members:   c.Members,
		CreatedBy: c.CreatedBy,
		CreatedAt: FormatTime(c.CreatedAt),
	}
}

// messageJSON is a message as the API shows it.
type messageJSON struct {
	ID             string `json:"id"`
	Seq            int64  `json:"seq"`
	ConversationID string `json:"conversation_id"`
	SenderID       string `json:"sender_id"`
	Body           string `json:"body"`
	Erased         bool   `json:"erased,omitempty"`
	CreatedAt      string `json:"created_at"`
}

func toMessageJSON(m Message) messageJSON {
	return messageJSON{
		ID:             m.ID,
		Seq:            m.Seq,
		ConversationID: m.ConversationID,
		SenderID:       m.SenderID,
		Body:           m.Body,
		Erased:         m.Erased,
		CreatedAt:      FormatTime(m.CreatedAt),
	}
}

// pageJSON is the shape of every list response.
type pageJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// createdStatus is 201 for a new resource and 200 for one that existed already.
func createdStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// CreateConversation serves POST /v1/conversations. With an Idempotency-Key header, a repeat
// of the same request answers as the first did (the same status and conversation), as Stripe's
// API does; a different request with the key gets 409 idempotency_conflict.
func (h *Handlers) CreateConversation(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}
	var in NewConversation
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	retry, err := idempotency.FromHTTP(req, in)
	if err != nil {
		return nil, err
	}

	c, created, err := h.svc.CreateConversation(ctx, id.TenantID, id.UserID, in, retry)
	if err != nil {
		return nil, err
	}
	return edge.JSON(createdStatus(created), toConversationJSON(c))
}

// ListConversations serves GET /v1/conversations.
func (h *Handlers) ListConversations(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}
	limit, err := req.QueryInt("limit", DefaultConversationLimit, 1, MaxConversationLimit)
	if err != nil {
		return nil, err
	}

	page, err := h.svc.ListConversations(ctx, id.TenantID, id.UserID, req.Query("cursor"), limit)
	if err != nil {
		return nil, err
	}
	out := pageJSON[conversationItemJSON]{Items: make([]conversationItemJSON, len(page.Items)), NextCursor: page.NextCursor}
	for i, c := range page.Items {
		out.Items[i] = toConversationItemJSON(c, page.Activity[c.ID])
	}
	return edge.JSON(http.StatusOK, out)
}

// SendMessage serves POST /v1/conversations/{id}/messages.
func (h *Handlers) SendMessage(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}
	var in NewMessage
	if err := req.Decode(&in); err != nil {
		return nil, err
	}

	m, created, err := h.svc.SendMessage(ctx, id.TenantID, id.UserID, req.PathParam("id"), in)
	if err != nil {
		return nil, err
	}
	return edge.JSON(createdStatus(created), toMessageJSON(m))
}

// ListMessages serves GET /v1/conversations/{id}/messages.
func (h *Handlers) ListMessages(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}
	q, err := ParseMessageQuery(req.Query("after"), req.Query("before"), req.Query("cursor"), req.Query("limit"))
	if err != nil {
		return nil, err
	}

	page, err := h.svc.ListMessages(ctx, id.TenantID, id.UserID, req.PathParam("id"), q)
	if err != nil {
		return nil, err
	}
	out := pageJSON[messageJSON]{Items: make([]messageJSON, len(page.Items)), NextCursor: page.NextCursor}
	for i, m := range page.Items {
		out.Items[i] = toMessageJSON(m)
	}
	return edge.JSON(http.StatusOK, out)
}
