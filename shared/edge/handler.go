package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/fault"
)

// Response is what a function returns to API Gateway.
type Response = events.APIGatewayV2HTTPResponse

// HandlerFunc is a domain handler behind the edge. It returns a response or an error; the edge
// turns errors into problem responses.
type HandlerFunc func(ctx context.Context, req *Request) (*Response, error)

// LambdaHandler is the signature lambda.Start receives from the edge.
type LambdaHandler func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// JSON returns a response with the given status and v encoded as its JSON body.
func JSON(status int, v any) (*Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return &Response{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}, nil
}

// NewLogger returns the JSON logger a function uses, tagged with the function's name. The level
// comes from LOG_LEVEL (debug, info, warn, error; info when unset).
func NewLogger(function string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	h := slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", function)
}

type loggerKey struct{}

// Logger returns the request-scoped logger the edge placed in ctx, or the default logger.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// WithLogger returns a context carrying l for Logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// HTTP adapts h to lambda.Start. The returned handler never returns an error to Lambda and
// never panics: errors and panics become problem responses, and internal causes are logged with
// the request id but not sent to the client.
func HTTP(log *slog.Logger, h HandlerFunc) LambdaHandler { return HTTPRecorded(log, nil, h) }

// HTTPRecorded is HTTP that hands a record of every request (see AccessRecord) to rec after the
// handler ran and before the response is returned. A nil rec records nothing.
func HTTPRecorded(log *slog.Logger, rec Recorder, h HandlerFunc) LambdaHandler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
		start := time.Now()
		req := &Request{APIGatewayV2HTTPRequest: ev}
		l := log.With("request_id", req.RequestID(), "route", ev.RouteKey)
		if c, ok := req.Caller(); ok {
			l = l.With("tenant_id", c.TenantID)
			ctx = WithCaller(ctx, c)
		}
		if id, ok := req.Identity(); ok {
			ctx = WithIdentity(ctx, id)
		}
		ctx = WithLogger(ctx, l)
		// Deferred first, so it runs last: after a panic became a problem response.
		defer func() { record(ctx, l, rec, req, resp.StatusCode, start) }()

		defer func() {
			if p := recover(); p != nil {
				l.ErrorContext(ctx, "handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				resp, err = *ProblemFor(errors.New("panic"), req.RequestID()), nil
			}
		}()

		out, herr := h(ctx, req)
		if herr != nil {
			fe := fault.As(herr)
			if fe == nil || fe.Kind == fault.Internal || fe.Kind == fault.Unavailable {
				l.ErrorContext(ctx, "request failed", "error", herr.Error())
			} else {
				l.DebugContext(ctx, "request refused", "code", fe.Code)
			}
			return *ProblemFor(herr, req.RequestID()), nil
		}
		if out == nil {
			return Response{StatusCode: http.StatusNoContent}, nil
		}
		return *out, nil
	}
}

// RequireIdentity returns the caller's identity, or ErrUnauthorized when the request carries
// none. Every route behind the authorizer calls it first.
func RequireIdentity(ctx context.Context) (Identity, error) {
	id, ok := IdentityFrom(ctx)
	if !ok {
		return Identity{}, fault.ErrUnauthorized
	}
	return id, nil
}

// RequireCaller returns the verified caller, a user or a tenant's API key, or ErrUnauthorized
// when the request carries none. Routes that also serve a tenant's servers call it instead of
// RequireIdentity.
func RequireCaller(ctx context.Context) (Identity, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return Identity{}, fault.ErrUnauthorized
	}
	return c, nil
}
