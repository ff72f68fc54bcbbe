package wsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"caas.dev/shared/runtime/template"
)

// connectResponse is what a $connect integration may answer (APIGatewayProxyResponse).
type connectResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
}

// policyResponse is a REQUEST authorizer's answer.
type policyResponse struct {
	PrincipalID    string `json:"principalId"`
	PolicyDocument struct {
		Version   string            `json:"Version"`
		Statement []policyStatement `json:"Statement"`
	} `json:"policyDocument"`
	Context map[string]any `json:"context"`
}

type policyStatement struct {
	Action   stringOrList `json:"Action"`
	Effect   string       `json:"Effect"`
	Resource stringOrList `json:"Resource"`
}

// stringOrList is an IAM policy field, which takes a string or a list of strings.
type stringOrList []string

func (l *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or a list of strings: %w", err)
	}
	*l = many
	return nil
}

// connect runs a handshake: the authorizer, then the $connect integration, then the upgrade.
func (s *Server) connect(w http.ResponseWriter, r *http.Request, stage string) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		gatewayError(w, http.StatusUpgradeRequired, "Upgrade Required")
		return
	}
	now := s.now()
	c := &conn{id: newConnectionID(), hs: newHandshake(r, stage), connectedAt: now, done: make(chan struct{}), ready: make(chan struct{})}
	c.lastActive.Store(now.UnixNano())
	requestID := newRequestID()
	log := s.logger.With("connection_id", c.id, "request_id", requestID)
	route := s.api.Routes["$connect"]

	if route != nil && route.Authorizer != nil {
		status, msg := s.authorize(r.Context(), c, route.Authorizer, requestID, now)
		if status != 0 {
			log.InfoContext(r.Context(), "connect refused by the authorizer", "status", status)
			gatewayError(w, status, msg)
			return
		}
	}

	var headers http.Header
	if route != nil {
		ev := events.APIGatewayWebsocketProxyRequest{
			Headers: c.hs.headers, MultiValueHeaders: c.hs.multiHeader,
			QueryStringParameters: c.hs.query, MultiValueQueryStringParameters: c.hs.multiQuery,
			RequestContext: s.requestContext(c, "$connect", "CONNECT", requestID, now),
		}
		res, err := s.invoke(r.Context(), route.Function, ev)
		if err != nil {
			log.WarnContext(r.Context(), "$connect integration failed", "function", route.Function, "error", err.Error())
			gatewayError(w, http.StatusInternalServerError, "Internal server error")
			return
		}
		var resp connectResponse
		if len(res) > 0 && string(res) != "null" {
			if err := json.Unmarshal(res, &resp); err != nil {
				log.WarnContext(r.Context(), "$connect integration answered no proxy response", "function", route.Function)
				gatewayError(w, http.StatusInternalServerError, "Internal server error")
				return
			}
		}
		if resp.StatusCode != 0 && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			log.InfoContext(r.Context(), "connect refused by the $connect integration", "status", resp.StatusCode)
			for k, v := range resp.Headers {
				w.Header().Set(k, v)
			}
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write([]byte(resp.Body))
			return
		}
		headers = upgradeHeaders(resp)
	}

	for k, vs := range headers {
		w.Header()[k] = vs
	}
	// Registered before the upgrade: a client may call the management API (through a function)
	// as soon as it reads the answer, and the connection must already exist then.
	if !s.add(c) {
		gatewayError(w, http.StatusGone, "Going away")
		return
	}
	guard := &frameGuard{limit: MaxFrameBytes}
	ws, err := websocket.Accept(&guardedWriter{ResponseWriter: w, guard: guard}, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // API Gateway does not check Origin; authorizers do the gatekeeping
		CompressionMode:    websocket.CompressionDisabled,
		OnPingReceived: func(context.Context, []byte) bool {
			c.touch(s.now())
			return true
		},
	})
	if err != nil {
		// Accept has answered the client. $connect succeeded, so API Gateway would now report
		// a disconnect: the integration may have stored the connection.
		log.InfoContext(r.Context(), "upgrade failed", "error", err.Error())
		s.remove(c)
		close(c.ready)
		go func() { // counted in wg by add, in place of the connection's loop
			defer s.wg.Done()
			s.sendDisconnect(c, int(websocket.StatusAbnormalClosure), "Connection closed abnormally")
		}()
		return
	}
	ws.SetReadLimit(MaxMessageBytes)
	c.ws, c.guard = ws, guard
	close(c.ready)
	log.LogAttrs(r.Context(), slog.LevelInfo, "connected", slog.String("source_ip", c.hs.sourceIP))
	go s.serve(c)
}

// upgradeHeaders returns the headers of a $connect answer that go on the upgrade response
// (a negotiated Sec-WebSocket-Protocol above all), leaving out what the handshake owns.
func upgradeHeaders(resp connectResponse) http.Header {
	h := http.Header{}
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		h.Del(k)
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, k := range []string{"Content-Length", "Connection", "Upgrade", "Sec-Websocket-Accept", "Sec-Websocket-Extensions", "Transfer-Encoding"} {
		h.Del(k)
	}
	return h
}

// authorize runs the REQUEST authorizer. It returns 0 to admit, else the status and message to
// refuse with; on admission c.authorizer holds the context the later events carry.
func (s *Server) authorize(ctx context.Context, c *conn, a *template.WebSocketAuthorizer, requestID string, now time.Time) (int, string) {
	for _, src := range a.IdentitySource {
		var v string
		if name, ok := strings.CutPrefix(src, "route.request.header."); ok {
			v = c.hs.multiHeaderValue(name)
		} else if name, ok := strings.CutPrefix(src, "route.request.querystring."); ok {
			v = c.hs.query[name]
		}
		if v == "" {
			return http.StatusUnauthorized, "Unauthorized"
		}
	}
	methodArn := s.methodArn(c.hs.stage)
	ev := authorizerEvent{
		Type: "REQUEST", MethodArn: methodArn,
		Headers: c.hs.headers, MultiValueHeaders: c.hs.multiHeader,
		QueryStringParameters: c.hs.query, MultiValueQueryStringParameters: c.hs.multiQuery,
		StageVariables: map[string]string{},
		RequestContext: s.requestContext(c, "$connect", "CONNECT", requestID, now),
	}
	start := s.now()
	res, err := s.invoke(ctx, a.Function, ev)
	if err != nil {
		s.logger.WarnContext(ctx, "authorizer failed", "function", a.Function, "connection_id", c.id, "error", err.Error())
		return http.StatusInternalServerError, "Internal Server Error"
	}
	var p policyResponse
	if err := json.Unmarshal(res, &p); err != nil || p.PrincipalID == "" && len(p.PolicyDocument.Statement) == 0 {
		s.logger.WarnContext(ctx, "authorizer answered no policy", "function", a.Function, "connection_id", c.id)
		return http.StatusInternalServerError, "Internal Server Error"
	}
	if !allows(p.PolicyDocument.Statement, methodArn) {
		return http.StatusForbidden, "Forbidden"
	}
	authz := map[string]any{}
	for k, v := range p.Context {
		authz[k] = v
	}
	authz["principalId"] = p.PrincipalID
	authz["integrationLatency"] = s.now().Sub(start).Milliseconds()
	c.authorizer = authz
	return 0, ""
}

// allows reports whether the policy allows execute-api:Invoke on arn: an Allow matches and no
// Deny does, as IAM evaluates.
func allows(statements []policyStatement, arn string) bool {
	allowed := false
	for _, st := range statements {
		if !matchAny(st.Action, "execute-api:Invoke") || !matchAny(st.Resource, arn) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			return false
		case strings.EqualFold(st.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed
}

// matchAny matches IAM patterns, where * spans any characters and ? one.
func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

func wildcard(pattern, s string) bool {
	// path.Match treats / specially and [ as a class; IAM does neither, so both are replaced by
	// characters that cannot occur in an ARN before matching.
	esc := strings.NewReplacer("/", "\x00", "[", "\x01", "\\", "\x02")
	ok, err := path.Match(esc.Replace(pattern), esc.Replace(s))
	return err == nil && ok
}

// invoke runs function with the JSON of ev and returns its answer.
func (s *Server) invoke(ctx context.Context, function string, ev any) ([]byte, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	res, err := s.invoker.Invoke(ctx, function, payload)
	if err != nil {
		return nil, err
	}
	return res.Payload, nil
}

// multiHeaderValue returns a request header's value, matching its name in any case.
func (h *handshake) multiHeaderValue(name string) string {
	for k, vs := range h.multiHeader {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[len(vs)-1]
		}
	}
	return ""
}
