package edge

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/ids"
)

func TestAccessRecord(t *testing.T) {
	tenantID := ids.Random{}.New(ids.Tenant)
	start := time.Now().Add(-20 * time.Millisecond)
	req := func(route, tenantHeader string, lambda map[string]any) *Request {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: route, RawPath: "/v1/x", RawQueryString: "secret=1",
			Headers: map[string]string{"x-tenant-id": tenantHeader, "authorization": "Bearer t"}}
		ev.RequestContext.RequestID = "req-1"
		ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
		ev.RequestContext.HTTP.UserAgent = "ua/1"
		if lambda != nil {
			ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: lambda}
		}
		return &Request{APIGatewayV2HTTPRequest: ev}
	}
	apiKey := map[string]any{ContextTenantID: tenantID, ContextActor: ActorAPIKey, ContextRole: "admin"}

	r, ok := accessRecord(req("GET /v1/x", "", apiKey), 201, start)
	if !ok || r.TenantID != tenantID || r.ActorType != ActorAPIKey || r.ActorID != ActorAPIKey || r.Status != 201 ||
		!r.Succeeded() || r.Resource != "/v1/x" || r.IP != "203.0.113.7" || r.UserAgent != "ua/1" ||
		r.RequestID != "req-1" || r.LatencyMS < 20 || !ids.Valid(ids.AuditRecord, r.ID) {
		t.Errorf("API key record %+v, %v", r, ok)
	}
	r, ok = accessRecord(req("POST /v1/auth/login", tenantID, nil), 401, start)
	if !ok || r.TenantID != tenantID || r.ActorType != ActorAnonymous || r.Succeeded() {
		t.Errorf("anonymous record %+v, %v", r, ok)
	}
	withKey := req("POST /v1/auth/register", "", nil)
	withKey.Headers["x-api-key"] = "caas_sk_" + tenantID + "_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
	r, ok = accessRecord(withKey, 201, start)
	if !ok || r.TenantID != tenantID || r.ActorType != ActorAnonymous {
		t.Errorf("record of a call with an API key %+v, %v", r, ok)
	}
	for name, q := range map[string]*Request{
		"health":            req("GET /health", tenantID, apiKey),
		"ready":             req("GET /ready", tenantID, nil),
		"no tenant":         req("GET /.well-known/jwks.json", "", nil),
		"malformed tenant":  req("POST /v1/auth/login", "ten_x", nil),
		"another id prefix": req("POST /v1/auth/login", ids.Random{}.New(ids.User), nil),
	} {
		if r, ok := accessRecord(q, 200, start); ok {
			t.Errorf("%s: recorded %+v", name, r)
		}
	}
}

func TestCutPathKeepsWholeSegments(t *testing.T) {
	user := ids.Random{}.New(ids.User)
	p := "/v1/users/" + strings.Repeat("a", 500) + "/" + user
	got := cutPath(p, maxResourceLength)
	if len(got) > maxResourceLength || strings.Contains(got, "usr_") {
		t.Errorf("cutPath kept %d bytes or part of an id: %q", len(got), got)
	}
	if cutText("ab\x00c\xff", 10) != "abc\uFFFD" {
		t.Errorf("cutText = %q", cutText("ab\x00c\xff", 10))
	}
	if got := cutText("héllo", 2); got != "h" {
		t.Errorf("cutText cut inside a rune: %q", got)
	}
}
