package wsapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// connectionTimeLayout is how GetConnection's timestamps are written: ISO 8601 in UTC with
// milliseconds, which the SDKs' iso8601 timestamp parsers read.
const connectionTimeLayout = "2006-01-02T15:04:05.000Z"

// manage serves the management API for one connection id: POST sends, GET describes, DELETE
// closes. Requests are SigV4-signed by the SDKs; the signature is not checked (see the package
// documentation).
func (s *Server) manage(w http.ResponseWriter, r *http.Request, id string) {
	if id == "" || strings.Contains(id, "/") {
		serviceError(w, http.StatusBadRequest, "BadRequestException", "Invalid connectionId")
		return
	}
	c := s.lookup(id)
	if c != nil {
		ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
		ok := c.await(ctx)
		cancel()
		if !ok {
			c = nil
		}
	}
	switch r.Method {
	case http.MethodPost:
		s.post(w, r, c, id)
	case http.MethodGet:
		if c == nil {
			gone(w, id)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(connectionTimeLayout),
			"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(connectionTimeLayout),
			"identity":     map[string]string{"sourceIp": c.hs.sourceIP, "userAgent": c.hs.userAgent},
		})
	case http.MethodDelete:
		if c == nil {
			gone(w, id)
			return
		}
		s.disconnect(c, websocket.StatusNormalClosure, "Connection deleted")
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		serviceError(w, http.StatusMethodNotAllowed, "", "Method Not Allowed")
	}
}

// post delivers the body as one message: text when it is valid UTF-8, else binary.
func (s *Server) post(w http.ResponseWriter, r *http.Request, c *conn, id string) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxMessageBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			serviceError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Message too long")
			return
		}
		serviceError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body")
		return
	}
	if c == nil {
		gone(w, id)
		return
	}
	typ := websocket.MessageText
	if !utf8.Valid(data) {
		typ = websocket.MessageBinary
	}
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, typ, data); err != nil {
		// The client stopped reading or went away; API Gateway reports such a connection gone.
		s.logger.InfoContext(r.Context(), "push failed; closing the connection", "connection_id", id, "error", err.Error())
		s.disconnect(c, websocket.StatusGoingAway, "Going away")
		gone(w, id)
		return
	}
	c.touch(s.now())
	w.WriteHeader(http.StatusOK)
}

// gone answers GoneException, as API Gateway does for an unknown or closed connection.
func gone(w http.ResponseWriter, id string) {
	serviceError(w, http.StatusGone, "GoneException", "Connection "+id+" is gone")
}

// serviceError answers an error the SDKs decode: the type in x-amzn-ErrorType, the message in
// the body.
func serviceError(w http.ResponseWriter, status int, typ, message string) {
	if typ != "" {
		w.Header().Set("X-Amzn-Errortype", typ)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
