package realtime

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
)

// presenceItem is one member's presence.
type presenceItem struct {
	UserID string `json:"user_id"`
	Online bool   `json:"online"`
}

// presenceJSON answers GET /v1/conversations/{id}/presence.
type presenceJSON struct {
	Items []presenceItem `json:"items"`
}

// readStateJSON answers POST /v1/conversations/{id}/read.
type readStateJSON struct {
	ConversationID string `json:"conversation_id"`
	ReadSeq        int64  `json:"read_seq"`
	LastSeq        int64  `json:"last_seq"`
	UnreadCount    int64  `json:"unread_count"`
}

// markReadRequest is the body of POST /v1/conversations/{id}/read.
type markReadRequest struct {
	Seq *int64 `json:"seq"`
}

// Presence returns, for every member of the conversation in the conversation's member order,
// whether it is online: whether it holds at least one live connection. A non-member gets
// chat.ErrConversationNotFound.
func (s *Service) Presence(ctx context.Context, id edge.Identity, conversationID string) ([]presenceItem, error) {
	if err := s.Chat.RequireMember(ctx, id.TenantID, id.UserID, conversationID); err != nil {
		return nil, err
	}
	members, err := s.Chat.Members(ctx, id.TenantID, conversationID)
	if err != nil {
		return nil, err
	}
	conns, err := s.Registry.Connections(ctx, id.TenantID, members)
	if err != nil {
		return nil, err
	}

	items := make([]presenceItem, len(members))
	for i, m := range members {
		items[i] = presenceItem{UserID: m, Online: len(conns[m]) > 0}
	}
	return items, nil
}

// GetPresence serves GET /v1/conversations/{id}/presence.
func (s *Service) GetPresence(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}

	items, err := s.Presence(ctx, id, req.PathParam("id"))
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, presenceJSON{Items: items})
}

// MarkReadHTTP serves POST /v1/conversations/{id}/read: it moves the caller's read position
// to seq (never backward, clamped to the last message) and sends the other members a receipt,
// as the markRead action does.
func (s *Service) MarkReadHTTP(ctx context.Context, req *edge.Request) (*edge.Response, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return nil, err
	}
	var in markReadRequest
	if err := req.Decode(&in); err != nil {
		return nil, err
	}
	if in.Seq == nil {
		return nil, edge.Missing("seq")
	}
	if *in.Seq < 0 {
		return nil, edge.Invalid("seq", "must be zero or more")
	}

	st, err := s.MarkRead(ctx, id, req.PathParam("id"), *in.Seq)
	if err != nil {
		return nil, err
	}
	return edge.JSON(http.StatusOK, readStateJSON{ConversationID: st.ConversationID, ReadSeq: st.ReadSeq,
		LastSeq: st.LastSeq, UnreadCount: st.Unread})
}
