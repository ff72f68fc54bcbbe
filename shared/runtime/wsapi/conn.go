package wsapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// conn is one client connection.
type conn struct {
	id          string
	hs          *handshake
	connectedAt time.Time
	lastActive  atomic.Int64 // unix nanoseconds
	authorizer  any          // the authorizer's context and principalId; nil without authorizer
	ws          *websocket.Conn
	guard       *frameGuard

	closeOnce   sync.Once
	closeCode   websocket.StatusCode // set when the server closes: why, for $disconnect
	closeReason string
	done        chan struct{} // closed when the read loop has ended
	ready       chan struct{} // closed once the upgrade is done: ws is set, or nil if it failed
}

// await waits for the upgrade of a connection registered during its handshake, and reports
// whether it succeeded.
func (c *conn) await(ctx context.Context) bool {
	select {
	case <-c.ready:
		return c.ws != nil
	case <-ctx.Done():
		return false
	}
}

func (c *conn) touch(now time.Time) { c.lastActive.Store(now.UnixNano()) }

// serve reads the client's messages until the connection ends, enforcing the idle and age
// limits, then delivers $disconnect: the one place it is sent, so it is sent once.
func (s *Server) serve(c *conn) {
	defer s.wg.Done()
	stopTimers := s.watchLimits(c)
	code, reason := s.readLoop(c)
	stopTimers()
	close(c.done)
	s.remove(c)
	if c.guard.tripped() {
		// The stream past the oversized frame is unreadable, so the close frame is sent without
		// waiting for the client's answer (reads fail at once).
		_ = c.ws.Close(websocket.StatusMessageTooBig, "Frame size exceeded")
	}
	_ = c.ws.CloseNow()
	s.logger.Info("disconnected", "connection_id", c.id, "status_code", code)
	s.sendDisconnect(c, code, reason)
}

// readLoop returns the status code and reason $disconnect reports.
func (s *Server) readLoop(c *conn) (int, string) {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return c.closeStatus(err)
		}
		now := s.now()
		c.touch(now)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.dispatch(c, typ, data, now)
		}()
	}
}

// closeStatus explains the end of a connection: the server's own reason when it closed it,
// else the client's close frame, else a broken transport.
func (c *conn) closeStatus(err error) (int, string) {
	switch {
	case c.guard.tripped():
		return int(websocket.StatusMessageTooBig), "Frame size exceeded"
	case errors.Is(err, websocket.ErrMessageTooBig):
		return int(websocket.StatusMessageTooBig), "Message too big"
	}
	var code websocket.StatusCode
	var reason string
	c.closeOnce.Do(func() {}) // from here on, no server close can change the reason
	code, reason = c.closeCode, c.closeReason
	if code != 0 {
		return int(code), reason
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.StatusNoStatusRcvd {
			return int(ce.Code), "Client-side close frame status not set"
		}
		return int(ce.Code), ce.Reason
	}
	return int(websocket.StatusAbnormalClosure), "Connection closed abnormally"
}

// disconnect closes the connection from the server's side with code and reason. The read loop
// then ends and delivers $disconnect with them. The connection leaves the registry at once, so
// the management API answers 410 for it from now on.
func (s *Server) disconnect(c *conn, code websocket.StatusCode, reason string) {
	s.remove(c)
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		go func() {
			<-c.ready
			if c.ws != nil {
				_ = c.ws.Close(code, reason)
			}
		}()
	})
}

// watchLimits closes the connection when it has been idle, or open, too long. The returned
// function stops watching.
func (s *Server) watchLimits(c *conn) (stop func()) {
	quit := make(chan struct{})
	go func() {
		age := time.NewTimer(s.maxAge)
		defer age.Stop()
		idle := time.NewTimer(s.idle)
		defer idle.Stop()
		for {
			select {
			case <-quit:
				return
			case <-age.C:
				s.disconnect(c, websocket.StatusGoingAway, "Going away: maximum connection duration reached")
				return
			case <-idle.C:
				left := s.idle - s.now().Sub(time.Unix(0, c.lastActive.Load()))
				if left > 0 {
					idle.Reset(left)
					continue
				}
				s.disconnect(c, websocket.StatusGoingAway, "Going away: idle timeout")
				return
			}
		}
	}()
	return func() { close(quit) }
}

// dispatch routes one client message and invokes its integration. API Gateway sends nothing
// back to the client (no route responses), except an error document when the integration fails.
func (s *Server) dispatch(c *conn, typ websocket.MessageType, data []byte, now time.Time) {
	requestID := newRequestID()
	routeKey := "$default"
	if typ == websocket.MessageText {
		if key := s.selectRoute(data); key != "" {
			routeKey = key
		}
	}
	route := s.api.Routes[routeKey]
	if route == nil {
		s.reply(c, "Forbidden", requestID)
		return
	}
	ev := events.APIGatewayWebsocketProxyRequest{
		RequestContext: s.requestContext(c, routeKey, "MESSAGE", requestID, now),
	}
	ev.RequestContext.MessageID = newExtendedRequestID()
	if typ == websocket.MessageBinary {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(data), true
	} else {
		ev.Body = string(data)
	}
	if _, err := s.invoke(context.Background(), route.Function, ev); err != nil {
		s.logger.Warn("route integration failed", "connection_id", c.id, "request_id", requestID,
			"route", routeKey, "function", route.Function, "error", err.Error())
		s.reply(c, "Internal server error", requestID)
	}
}

// selectRoute evaluates $request.body.<path> on a JSON body: the route key when the template has
// that route, else "".
func (s *Server) selectRoute(data []byte) string {
	field := strings.TrimPrefix(s.api.RouteSelectionExpression, "$request.body.")
	var v any
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	for _, part := range strings.Split(field, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[part]
	}
	key, ok := v.(string)
	if !ok || s.api.Routes[key] == nil || strings.HasPrefix(key, "$") {
		return ""
	}
	return key
}

// reply sends API Gateway's error document to the client.
func (s *Server) reply(c *conn, message, requestID string) {
	body, _ := json.Marshal(map[string]string{"message": message, "connectionId": c.id, "requestId": requestID})
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageText, body)
}

// sendDisconnect invokes the $disconnect integration. Its failure is logged only: the client is
// gone and nobody can be told.
func (s *Server) sendDisconnect(c *conn, code int, reason string) {
	route := s.api.Routes["$disconnect"]
	if route == nil {
		return
	}
	requestID := newRequestID()
	ev := events.APIGatewayWebsocketProxyRequest{
		Headers: c.hs.headers, MultiValueHeaders: c.hs.multiHeader,
		RequestContext: s.requestContext(c, "$disconnect", "DISCONNECT", requestID, s.now()),
	}
	ev.RequestContext.DisconnectStatusCode = int64(code)
	ev.RequestContext.DisconnectReason = &reason
	if _, err := s.invoke(context.Background(), route.Function, ev); err != nil {
		s.logger.Warn("$disconnect integration failed", "connection_id", c.id, "request_id", requestID,
			"function", route.Function, "error", err.Error())
	}
}
