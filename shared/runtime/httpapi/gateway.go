// Package httpapi serves a SAM template's HTTP APIs locally as API Gateway's HTTP API does:
// route selection, payload format 2.0 events, Lambda REQUEST authorizers with simple or IAM
// responses, CORS preflight, response mapping, and the gateway's own error answers.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/template"
)

// unauthorizedMessage is the error message with which a Lambda authorizer asks API Gateway
// for a 401.
const unauthorizedMessage = "Unauthorized"

// MaxBodyBytes is API Gateway's limit on a request body.
const MaxBodyBytes = 10 << 20

// Invoker runs a function; *lambdaapi.Host is one.
type Invoker interface {
	Invoke(ctx context.Context, name string, payload []byte) (*lambdaapi.Result, error)
}

// Gateway is an http.Handler serving the HTTP APIs of a template.
type Gateway struct {
	invoker Invoker
	logger  *slog.Logger
	apiID   string
	table   table
	cors    *template.Cors
	now     func() time.Time
	// bodyTimeout bounds the read of a request's body (DefaultBodyReadTimeout).
	bodyTimeout time.Duration
}

// New builds the gateway of every HTTP API in tmpl. They share one address locally, so their
// routes form one table; the first API's CORS configuration applies.
func New(tmpl *template.Template, invoker Invoker, logger *slog.Logger) (*Gateway, error) {
	g := &Gateway{invoker: invoker, logger: logger, now: time.Now, bodyTimeout: DefaultBodyReadTimeout}
	seen := map[string]string{}
	for _, fname := range tmpl.FunctionNames() {
		for _, ev := range tmpl.Functions[fname].HTTPEvents {
			api := tmpl.HTTPAPIs[ev.API]
			if api == nil {
				return nil, fmt.Errorf("function %s: event %s: no HTTP API %s", fname, ev.Name, ev.API)
			}
			if g.apiID == "" {
				g.apiID, g.cors = strings.ToLower(api.Name), api.Cors
			}
			authName := ev.Authorizer
			if authName == "" {
				authName = api.DefaultAuthorizer
			}
			var auth *template.Authorizer
			if authName != "" && authName != template.NoAuthorizer {
				auth = api.Authorizers[authName]
			}
			r := newRoute(ev, fname, auth)
			if other, dup := seen[r.key]; dup {
				return nil, fmt.Errorf("function %s: route %q is also served by %s", fname, r.key, other)
			}
			seen[r.key] = fname
			if r.key == "$default" {
				g.table.def = r
			} else {
				g.table.routes = append(g.table.routes, r)
			}
		}
	}
	sortRoutes(g.table.routes)
	return g, nil
}

// ServeHTTP answers one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	requestID := newRequestID()
	w.Header().Set("Apigw-Requestid", requestID)
	status := g.serve(w, r, requestID, start)
	g.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", requestID), slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, requestID string, now time.Time) int {
	origin := r.Header.Get("Origin")
	if g.cors != nil && r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		return g.preflight(w, r)
	}
	g.corsHeaders(w, origin)

	// A per-request deadline, not the server's ReadTimeout: the connection may live on
	// (keep-alive) and the deadline is cleared once the body is in.
	rc := http.NewResponseController(w)
	deadlineSet := rc.SetReadDeadline(time.Now().Add(g.bodyTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return gatewayError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return problemError(w, http.StatusRequestTimeout, "body_read_timeout",
				"the request body did not arrive within "+g.bodyTimeout.String(), requestID)
		}
		return problemError(w, http.StatusBadRequest, "body_read_failed", "the request body could not be read in full", requestID)
	}
	if deadlineSet {
		_ = rc.SetReadDeadline(time.Time{})
	}

	rt, params := g.table.lookup(r.Method, r.URL.Path)
	if rt == nil {
		return gatewayError(w, http.StatusNotFound, "Not Found")
	}
	ev := newEvent(r, rt, params, body, g.apiID, requestID, now)

	if rt.authorizer != nil {
		if status := g.authorize(r.Context(), w, r, rt.authorizer, ev); status != 0 {
			return status
		}
	}

	payload, err := json.Marshal(ev)
	if err != nil {
		return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
	res, err := g.invoker.Invoke(r.Context(), rt.function, payload)
	if err != nil {
		return g.invokeError(r.Context(), w, rt.function, err)
	}
	status, h, out, err := mapResponse(res.Payload)
	if err != nil {
		g.logger.WarnContext(r.Context(), "bad function response", "function", rt.function, "request_id", requestID, "error", err)
		return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
	for k, vs := range h {
		if g.cors != nil && strings.HasPrefix(strings.ToLower(k), "access-control-") && w.Header().Get("Access-Control-Allow-Origin") != "" {
			continue // the gateway's CORS headers win over the function's
		}
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(status)
	_, _ = w.Write(out)
	return status
}

func (g *Gateway) invokeError(ctx context.Context, w http.ResponseWriter, fn string, err error) int {
	g.logger.WarnContext(ctx, "invocation failed", "function", fn, "error", err)
	if errors.Is(err, lambdaapi.ErrTimeout) {
		return gatewayError(w, http.StatusServiceUnavailable, "Service Unavailable")
	}
	return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
}

// authorize runs the route's authorizer. It returns 0 when the request may proceed, with the
// authorizer's context placed in ev, or the status it answered.
func (g *Gateway) authorize(ctx context.Context, w http.ResponseWriter, r *http.Request, a *template.Authorizer, ev *event) int {
	var identity []string
	for _, h := range a.IdentityHeaders {
		v := ev.Headers[strings.ToLower(h)]
		if v == "" {
			return gatewayError(w, http.StatusUnauthorized, "Unauthorized")
		}
		identity = append(identity, v)
	}
	payload, err := json.Marshal(authorizerEvent(ev, identity, g.apiID))
	if err != nil {
		return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
	res, err := g.invoker.Invoke(ctx, a.Function, payload)
	var fe *lambdaapi.FunctionError
	if errors.As(err, &fe) && fe.Message == unauthorizedMessage {
		// An authorizer failing with exactly "Unauthorized" refuses the request as missing
		// credentials: API Gateway answers 401, not 500.
		return gatewayError(w, http.StatusUnauthorized, "Unauthorized")
	}
	if err != nil {
		g.logger.WarnContext(ctx, "authorizer failed", "function", a.Function, "error", err)
		return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
	allowed, authCtx, err := authorizerDecision(res.Payload, a.SimpleResponses)
	if err != nil {
		g.logger.WarnContext(ctx, "bad authorizer response", "function", a.Function, "error", err)
		return gatewayError(w, http.StatusInternalServerError, "Internal Server Error")
	}
	if !allowed {
		return gatewayError(w, http.StatusForbidden, "Forbidden")
	}
	ev.RequestContext.Authorizer = map[string]any{"lambda": authCtx}
	return 0
}

// authorizerDecision reads a simple response ({"isAuthorized", "context"}) or an IAM policy
// response ({"principalId", "policyDocument", "context"}).
func authorizerDecision(payload []byte, simple bool) (bool, map[string]any, error) {
	if simple {
		var s struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if err := json.Unmarshal(payload, &s); err != nil || s.IsAuthorized == nil {
			return false, nil, fmt.Errorf("want {\"isAuthorized\": bool}")
		}
		return *s.IsAuthorized, s.Context, nil
	}
	var p struct {
		PolicyDocument struct {
			Statement []struct {
				Effect string `json:"Effect"`
			} `json:"Statement"`
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || len(p.PolicyDocument.Statement) == 0 {
		return false, nil, fmt.Errorf("want an IAM policy response")
	}
	allowed := false
	for _, st := range p.PolicyDocument.Statement {
		switch st.Effect {
		case "Deny":
			return false, nil, nil
		case "Allow":
			allowed = true
		}
	}
	return allowed, p.Context, nil
}

// preflight answers a CORS preflight from the API's CorsConfiguration, without any function.
func (g *Gateway) preflight(w http.ResponseWriter, r *http.Request) int {
	c := g.cors
	origin := r.Header.Get("Origin")
	method := strings.ToUpper(r.Header.Get("Access-Control-Request-Method"))
	if allowOrigin := g.allowedOrigin(origin); allowOrigin != "" && (contains(c.AllowMethods, "*") || contains(c.AllowMethods, method)) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", allowOrigin)
		if len(c.AllowMethods) > 0 {
			h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
		}
		if len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(c.MaxAge))
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return http.StatusNoContent
}

// corsHeaders adds the CORS headers API Gateway adds to an ordinary response from an allowed
// origin.
func (g *Gateway) corsHeaders(w http.ResponseWriter, origin string) {
	if g.cors == nil || origin == "" {
		return
	}
	allow := g.allowedOrigin(origin)
	if allow == "" {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allow)
	if len(g.cors.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(g.cors.ExposeHeaders, ","))
	}
	if g.cors.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// allowedOrigin returns the Access-Control-Allow-Origin value for origin, or "" when it is not
// allowed.
func (g *Gateway) allowedOrigin(origin string) string {
	for _, o := range g.cors.AllowOrigins {
		if o == "*" {
			if g.cors.AllowCredentials {
				return origin
			}
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// gatewayError writes an answer API Gateway itself gives: JSON {"message": ...}.
func gatewayError(w http.ResponseWriter, status int, message string) int {
	b, _ := json.Marshal(map[string]string{"message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}
