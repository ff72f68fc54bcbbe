// Package wsapi serves a SAM template's WebSocket API locally as API Gateway does: the $connect
// route behind its REQUEST authorizer (an IAM policy decides), routes chosen by the route
// selection expression, $disconnect with status code and reason exactly once per connection,
// API Gateway's limits (32 KB frames, 128 KB messages, idle and maximum connection time), and the
// management API (POST, GET, DELETE /@connections/{connectionId}) on the same listener.
//
// The management API accepts SigV4-signed requests, as the AWS SDKs send them, without
// verifying the signature: locally any credentials work, as with the SDKs' dummy credentials.
// The runtime listens on loopback only by default, so only local processes reach it.
package wsapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/template"
)

// API Gateway's limits on WebSocket APIs.
const (
	MaxFrameBytes   = 32 << 10
	MaxMessageBytes = 128 << 10
	DefaultIdle     = 10 * time.Minute
	DefaultMaxAge   = 2 * time.Hour
)

// writeTimeout bounds one push to a client; a client that does not read is treated as gone.
const writeTimeout = 5 * time.Second

// Invoker runs a function; *lambdaapi.Host is one.
type Invoker interface {
	Invoke(ctx context.Context, name string, payload []byte) (*lambdaapi.Result, error)
}

// Options configures a Server. Zero fields take API Gateway's values.
type Options struct {
	Idle   time.Duration // CAAS_WS_IDLE; 10 minutes
	MaxAge time.Duration // CAAS_WS_MAX_AGE; 2 hours
	Logger *slog.Logger
}

// Server is an http.Handler serving one WebSocket API and its management API.
type Server struct {
	api     *template.WebSocketAPI
	invoker Invoker
	logger  *slog.Logger
	idle    time.Duration
	maxAge  time.Duration
	now     func() time.Time

	mu      sync.Mutex
	conns   map[string]*conn
	closing bool
	wg      sync.WaitGroup // connection loops and message dispatches
}

// ErrNoAPI reports a template without a WebSocket API.
var ErrNoAPI = errors.New("the template has no WebSocket API")

// New returns the server of the template's WebSocket API. Only one is served locally: with
// several, the first by logical id.
func New(tmpl *template.Template, invoker Invoker, opts Options) (*Server, error) {
	if len(tmpl.WebSocketAPIs) == 0 {
		return nil, ErrNoAPI
	}
	names := make([]string, 0, len(tmpl.WebSocketAPIs))
	for name := range tmpl.WebSocketAPIs {
		names = append(names, name)
	}
	slices.Sort(names)
	s := &Server{
		api: tmpl.WebSocketAPIs[names[0]], invoker: invoker, logger: opts.Logger,
		idle: opts.Idle, maxAge: opts.MaxAge, now: time.Now, conns: map[string]*conn{},
	}
	if s.idle <= 0 {
		s.idle = DefaultIdle
	}
	if s.maxAge <= 0 {
		s.maxAge = DefaultMaxAge
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s, nil
}

// API returns the API the server serves.
func (s *Server) API() *template.WebSocketAPI { return s.api }

// ServeHTTP answers a WebSocket handshake on /{stage} (or /), and the management API on
// [/{stage}]/@connections/{connectionId}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path, stage := s.splitStage(r.URL.Path)
	switch {
	case strings.HasPrefix(path, "/@connections/"):
		s.manage(w, r, strings.TrimPrefix(path, "/@connections/"))
	case path == "" || path == "/":
		s.connect(w, r, stage)
	default:
		gatewayError(w, http.StatusNotFound, "Not Found")
	}
}

// splitStage removes a leading /{stage} of the API and returns the rest and the stage; without
// one, the stage is the API's first.
func (s *Server) splitStage(path string) (rest, stage string) {
	for _, st := range s.api.Stages {
		if path == "/"+st || strings.HasPrefix(path, "/"+st+"/") {
			return strings.TrimPrefix(path, "/"+st), st
		}
	}
	if len(s.api.Stages) > 0 {
		return path, s.api.Stages[0]
	}
	return path, "$default"
}

// Close closes every connection with 1001 Going away, and returns once their $disconnect
// invocations are done or ctx ends. New handshakes are refused from now on.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.disconnect(c, websocket.StatusGoingAway, "Going away")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close WebSocket API: connections still closing: %w", ctx.Err())
	}
}

// add registers a connection and counts its loop in wg; it fails once Close has begun.
// Counting under the lock keeps wg.Add from racing Close's wg.Wait.
func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c.id] = c
	s.wg.Add(1)
	return true
}

func (s *Server) lookup(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// remove forgets a connection, reporting whether it was still registered: from then on the
// management API answers 410 for it.
func (s *Server) remove(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.id] != c {
		return false
	}
	delete(s.conns, c.id)
	return true
}

// gatewayError answers as API Gateway does for its own errors.
func gatewayError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

// newConnectionID returns an id shaped like API Gateway's ("L0SM9cOFvHcCIhw="): URL-safe, so it
// sits in a management API path unescaped.
func newConnectionID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.URLEncoding.EncodeToString(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newExtendedRequestID returns an id shaped like API Gateway's extendedRequestId ("KGrLdGOZoAMF7Rw=").
func newExtendedRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
