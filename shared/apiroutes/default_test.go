package apiroutes

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
)

func TestDefaultHandler(t *testing.T) {
	h := edge.HTTP(slog.New(slog.DiscardHandler), DefaultHandler(All))
	cases := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/nope", 404, "route_not_found", ""},
		{"GET", "/v1/conversations/cnv_1", 404, "route_not_found", ""},
		{"DELETE", "/v1/tenants", 405, "method_not_allowed", "POST"},
		{"PUT", "/v1/conversations", 405, "method_not_allowed", "GET, POST"},
		{"PATCH", "/v1/users/usr_1", 405, "method_not_allowed", "GET"},
		// An id holding an encoded "/" is two segments to the gateway: no route, never a 405
		// that names the method used.
		{"GET", "/v1/gdpr/exports/a%2Fb", 404, "route_not_found", ""},
	}
	for _, c := range cases {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: "$default", RawPath: c.path}
		ev.RequestContext.HTTP.Method = c.method
		ev.RequestContext.RequestID = "req-1"
		resp, err := h(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var p edge.Problem
		if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
			t.Fatalf("%s %s: body %q: %v", c.method, c.path, resp.Body, err)
		}
		if resp.StatusCode != c.status || p.Code != c.code || p.Status != c.status || p.RequestID != "req-1" ||
			resp.Headers["Content-Type"] != edge.ProblemContentType || resp.Headers["Allow"] != c.allow {
			t.Errorf("%s %s: %d %+v headers %v", c.method, c.path, resp.StatusCode, p, resp.Headers)
		}
	}
}
