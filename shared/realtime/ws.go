package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
)

// Subprotocol is the WebSocket subprotocol a browser offers, with its access token as the
// second one ("caas, <token>"), since browsers cannot set an Authorization header; $connect
// accepts it in the answer.
const Subprotocol = "caas"

// PresenceTimeout bounds the presence pushes of a connect or disconnect: they are best effort
// and must not hold up the connection.
const PresenceTimeout = 3 * time.Second

// Bounds of a presence announcement: the user's newest conversations, and the distinct
// members told across them.
const (
	PresenceConversations = 50
	PresenceRecipients    = 1000
)

// wsResponse is the answer to API Gateway for a WebSocket route.
func wsResponse(status int) events.APIGatewayProxyResponse {
	return events.APIGatewayProxyResponse{StatusCode: status}
}

// callerOf returns the caller the $connect authorizer established. API Gateway hands its
// context to every route of the connection under requestContext.authorizer.
func callerOf(req events.APIGatewayWebsocketProxyRequest) (edge.Identity, bool) {
	a, ok := req.RequestContext.Authorizer.(map[string]any)
	if !ok {
		return edge.Identity{}, false
	}
	if inner, ok := a["lambda"].(map[string]any); ok {
		a = inner
	}
	str := func(k string) string { s, _ := a[k].(string); return s }
	id := edge.Identity{TenantID: str(edge.ContextTenantID), UserID: str(edge.ContextUserID),
		SessionID: str(edge.ContextSessionID), Role: str(edge.ContextRole)}
	return id, id.TenantID != "" && id.UserID != ""
}

// requestLog returns ctx carrying a logger tagged with the request, the connection and, once
// known, the tenant.
func (s *Service) requestLog(ctx context.Context, req events.APIGatewayWebsocketProxyRequest, id edge.Identity) (context.Context, *slog.Logger) {
	l := s.baseLog().With("request_id", req.RequestContext.RequestID, "route", req.RequestContext.RouteKey,
		"connection_id", req.RequestContext.ConnectionID)
	if id.TenantID != "" {
		l = l.With("tenant_id", id.TenantID, "user_id", id.UserID)
	}
	return edge.WithLogger(ctx, l), l
}

// Connect handles $connect: it records the connection and, for the user's first, tells the
// members of their conversations that they are online.
func (s *Service) Connect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id, ok := callerOf(req)
	ctx, log := s.requestLog(ctx, req, id)
	if !ok {
		log.WarnContext(ctx, "refused", "reason", "no authorized caller")
		return wsResponse(http.StatusUnauthorized), nil
	}
	connID := req.RequestContext.ConnectionID
	if connID == "" {
		return wsResponse(http.StatusBadRequest), nil
	}

	connectedAt := s.now()
	if req.RequestContext.ConnectedAt > 0 {
		connectedAt = time.UnixMilli(req.RequestContext.ConnectedAt).UTC()
	}
	first, err := s.Registry.Add(ctx, Connection{ID: connID, TenantID: id.TenantID, UserID: id.UserID, ConnectedAt: connectedAt})
	if err != nil {
		// A connection the registry does not know would never receive a push: refuse it, so the
		// client retries.
		log.ErrorContext(ctx, "record connection", "error", err.Error())
		return wsResponse(http.StatusInternalServerError), nil
	}
	if first {
		s.announcePresence(ctx, id, StatusOnline)
	}

	resp := wsResponse(http.StatusOK)
	if offersSubprotocol(req.Headers) {
		resp.Headers = map[string]string{"Sec-WebSocket-Protocol": Subprotocol}
	}
	log.InfoContext(ctx, "connected", "first", first)
	return resp, nil
}

// offersSubprotocol reports whether the client offered Subprotocol in Sec-WebSocket-Protocol.
func offersSubprotocol(headers map[string]string) bool {
	for _, p := range strings.Split(header(headers, "Sec-WebSocket-Protocol"), ",") {
		if strings.TrimSpace(p) == Subprotocol {
			return true
		}
	}
	return false
}

// header returns the header name, whatever its case in the event.
func header(headers map[string]string, name string) string {
	if v, ok := headers[name]; ok {
		return v
	}
	for k, v := range headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Disconnect handles $disconnect: it forgets exactly this connection and, when it was the
// user's last, tells the members of their conversations that they are offline.
func (s *Service) Disconnect(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id, ok := callerOf(req)
	ctx, log := s.requestLog(ctx, req, id)
	if !ok {
		// Without the tenant the entry cannot be found; it expires on its own.
		log.WarnContext(ctx, "disconnect without an authorized caller")
		return wsResponse(http.StatusOK), nil
	}

	c, last, err := s.Registry.Remove(ctx, id.TenantID, req.RequestContext.ConnectionID)
	switch {
	case errors.Is(err, ErrConnectionNotFound):
		// A push found it gone first, or it expired.
		log.InfoContext(ctx, "disconnected", "known", false)
		return wsResponse(http.StatusOK), nil
	case err != nil:
		log.ErrorContext(ctx, "forget connection", "error", err.Error())
		return wsResponse(http.StatusInternalServerError), nil
	}
	if last {
		s.announcePresence(ctx, edge.Identity{TenantID: c.TenantID, UserID: c.UserID}, StatusOffline)
	}
	log.InfoContext(ctx, "disconnected", "known", true, "last", last,
		"status_code", req.RequestContext.DisconnectStatusCode)
	return wsResponse(http.StatusOK), nil
}

// announcePresence pushes the user's status to the other members of their newest
// conversations, within PresenceTimeout and the bounds above. It never fails: presence is
// best effort, and GET .../presence answers the truth.
func (s *Service) announcePresence(ctx context.Context, id edge.Identity, status string) {
	ctx, cancel := context.WithTimeout(ctx, PresenceTimeout)
	defer cancel()
	log := s.logger(ctx)

	recipients, err := s.presenceRecipients(ctx, id)
	if err != nil {
		log.WarnContext(ctx, "presence not announced", "status", status, "error", err.Error())
		return
	}
	if _, err := s.pushToUsers(ctx, id.TenantID, recipients, presenceEvent{Type: TypePresence, UserID: id.UserID, Status: status}); err != nil {
		log.WarnContext(ctx, "presence not announced", "status", status, "error", err.Error())
	}
}

// presenceRecipients returns the distinct other members of the user's newest conversations.
func (s *Service) presenceRecipients(ctx context.Context, id edge.Identity) ([]string, error) {
	convs, err := s.Chat.ConversationIDsOf(ctx, id.TenantID, id.UserID, PresenceConversations)
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	seen := map[string]bool{id.UserID: true}
	var out []string
	for _, c := range convs {
		members, err := s.Chat.Members(ctx, id.TenantID, c)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read members: %w", err)
		}
		for _, m := range members {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
				if len(out) == PresenceRecipients {
					return out, nil
				}
			}
		}
	}
	return out, nil
}

// Default handles $default: one client frame, answered on the caller's own connection.
func (s *Service) Default(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	id, ok := callerOf(req)
	ctx, log := s.requestLog(ctx, req, id)
	if !ok {
		log.WarnContext(ctx, "frame without an authorized caller")
		return wsResponse(http.StatusUnauthorized), nil
	}
	connID := req.RequestContext.ConnectionID

	body := []byte(req.Body)
	f, err := ParseFrame(body)
	if err != nil {
		log.DebugContext(ctx, "frame refused", "action", f.Action, "error", err.Error())
		s.reply(ctx, connID, errorFrameFor(f, err))
		return wsResponse(http.StatusOK), nil
	}

	answer, err := s.act(ctx, id, f)
	if err != nil {
		if !isClientFault(err) {
			log.ErrorContext(ctx, "action failed", "action", f.Action, "error", err.Error())
		}
		answer = errorFrameFor(f, err)
	}
	if answer != nil {
		s.reply(ctx, connID, answer)
	}
	return wsResponse(http.StatusOK), nil
}

// act carries out one parsed frame and returns the answer for the caller, if any.
func (s *Service) act(ctx context.Context, id edge.Identity, f Frame) (any, error) {
	switch f.Action {
	case ActionSendMessage:
		m, _, err := s.Chat.SendMessage(ctx, id.TenantID, id.UserID, f.ConversationID,
			chat.NewMessage{ClientMsgID: f.ClientMsgID, Body: f.Body})
		if err != nil {
			return nil, err
		}
		// Every member's connections, the sender's included, get the message from MessageFanout.
		return sendAck{Type: TypeAck, Action: ActionSendMessage, ClientMsgID: m.ClientMsgID, Message: ToMessageJSON(m)}, nil
	case ActionTyping:
		return nil, s.Typing(ctx, id, f.ConversationID)
	case ActionMarkRead:
		st, err := s.MarkRead(ctx, id, f.ConversationID, f.Seq)
		if err != nil {
			return nil, err
		}
		return newReadAck(st), nil
	case ActionPing:
		return pong{Type: TypePong}, nil
	}
	return nil, ErrUnknownAction
}

// Typing tells the other members of the conversation that the caller is typing. Nothing is
// stored. A non-member gets chat.ErrConversationNotFound.
func (s *Service) Typing(ctx context.Context, id edge.Identity, conversationID string) error {
	members, err := s.memberPeers(ctx, id, conversationID)
	if err != nil {
		return err
	}
	_, err = s.pushToUsers(ctx, id.TenantID, members, typingEvent{Type: TypeTyping, ConversationID: conversationID, UserID: id.UserID})
	return err
}

// MarkRead moves the caller's read position and sends the receipt to the other members. The
// receipt is best effort: the read position is stored whether or not it reaches them.
func (s *Service) MarkRead(ctx context.Context, id edge.Identity, conversationID string, seq int64) (chat.ReadState, error) {
	st, err := s.Chat.MarkRead(ctx, id.TenantID, id.UserID, conversationID, seq)
	if err != nil {
		return chat.ReadState{}, err
	}

	members, err := s.Chat.Members(ctx, id.TenantID, conversationID)
	if err == nil {
		_, err = s.pushToUsers(ctx, id.TenantID, others(members, id.UserID),
			readEvent{Type: TypeRead, ConversationID: conversationID, UserID: id.UserID, Seq: st.ReadSeq})
	}
	if err != nil {
		s.logger(ctx).WarnContext(ctx, "read receipt not sent", "conversation_id", conversationID, "error", err.Error())
	}
	return st, nil
}

// memberPeers checks that the caller is a member and returns the other members.
func (s *Service) memberPeers(ctx context.Context, id edge.Identity, conversationID string) ([]string, error) {
	if err := s.Chat.RequireMember(ctx, id.TenantID, id.UserID, conversationID); err != nil {
		return nil, err
	}
	members, err := s.Chat.Members(ctx, id.TenantID, conversationID)
	if err != nil {
		return nil, err
	}
	return others(members, id.UserID), nil
}
