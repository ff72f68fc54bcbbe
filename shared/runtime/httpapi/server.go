package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Limits of the local HTTP servers, close to API Gateway's: it ends a request whose headers or
// body do not arrive within about 30 s and refuses headers over about 10 KB in total.
const (
	// ReadHeaderTimeout bounds the reading of a request's line and headers.
	ReadHeaderTimeout = 30 * time.Second
	// DefaultBodyReadTimeout bounds the reading of a request's body, from the end of its
	// headers; a body that has not arrived by then is answered 408.
	DefaultBodyReadTimeout = 30 * time.Second
	// MaxHeaderBytes is the largest request line and headers taken (net/http allows a few KB
	// of slack over it); a larger one is answered 431 by net/http.
	MaxHeaderBytes = 10 << 10
)

// NewServer returns an http.Server for handler with the header limits above. It sets no
// whole-connection ReadTimeout, which would cut long-lived WebSocket connections; the gateway
// bounds each request's body read with a deadline of its own (SetBodyReadTimeout).
func NewServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: ReadHeaderTimeout, MaxHeaderBytes: MaxHeaderBytes}
}

// SetBodyReadTimeout sets how long the gateway waits for a request's body; zero or less keeps
// DefaultBodyReadTimeout. It must be called before the gateway serves.
func (g *Gateway) SetBodyReadTimeout(d time.Duration) {
	if d > 0 {
		g.bodyTimeout = d
	}
}

// problem is the platform's problem+json document, for the answers the gateway gives about a
// request that never reached a function.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// problemError writes a problem+json answer with a stable code and closes the connection
// after it (the rest of the request was not read).
func problemError(w http.ResponseWriter, status int, code, detail, requestID string) int {
	b, _ := json.Marshal(problem{Type: "https://caas.dev/problems/" + code, Title: http.StatusText(status),
		Status: status, Detail: detail, Code: code, RequestID: requestID})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
