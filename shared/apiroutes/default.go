package apiroutes

import (
	"context"
	"slices"
	"strings"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// Failures of the $default route.
var (
	// ErrRouteNotFound: no route has this path.
	ErrRouteNotFound = fault.New(fault.NotFound, "route_not_found", "no route matches this path")
	// ErrMethodNotAllowed: the path exists, but not with this method; Allow lists those it has.
	ErrMethodNotAllowed = fault.New(fault.MethodNotAllowed, "method_not_allowed", "the route does not accept this method")
)

// DefaultHandler serves the $default route: API Gateway sends it every request no other route
// matched. It answers 404 for an unknown path and 405 with an Allow header for a known path
// called with another method, both as problem documents.
func DefaultHandler(routes []Route) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		allowed := Allowed(routes, req.RawPath)
		// A path the gateway did not route although a route of this method matches its raw form
		// holds an encoded "/" (%2F) in a segment: the gateway reads it as two segments, so no
		// route has it.
		if len(allowed) == 0 || slices.Contains(allowed, req.RequestContext.HTTP.Method) {
			return nil, ErrRouteNotFound
		}
		resp := edge.ProblemFor(fault.WithDetail(ErrMethodNotAllowed,
			"this route accepts "+strings.Join(allowed, ", ")), req.RequestID())
		resp.Headers["Allow"] = strings.Join(allowed, ", ")
		return resp, nil
	}
}
