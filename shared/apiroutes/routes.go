// Package apiroutes is the HTTP API's route table as code: every (method, path template) pair
// template.yaml declares. The $default route uses it to tell an unknown path (404) from a known
// path called with the wrong method (405, with Allow). A test keeps it equal to the template.
package apiroutes

import (
	"slices"
	"strings"
)

// Route is one route of the HTTP API. Path segments in braces match any one segment.
type Route struct {
	Method string
	Path   string
}

// All lists every route of template.yaml except $default.
var All = []Route{
	{"POST", "/v1/tenants"},
	{"POST", "/v1/auth/register"},
	{"POST", "/v1/auth/login"},
	{"GET", "/v1/users/me"},
	{"GET", "/v1/users/{id}"},
	{"GET", "/v1/users"},
	{"PUT", "/v1/users/{id}/role"},
	{"POST", "/v1/keys"},
	{"GET", "/v1/keys"},
	{"GET", "/v1/keys/{name}"},
	{"PATCH", "/v1/keys/{name}"},
	{"POST", "/v1/keys/{name}/rotate"},
	{"POST", "/v1/crypto/encrypt"},
	{"POST", "/v1/crypto/decrypt"},
	{"POST", "/v1/crypto/rewrap"},
	{"POST", "/v1/conversations"},
	{"GET", "/v1/conversations"},
	{"POST", "/v1/conversations/{id}/messages"},
	{"GET", "/v1/conversations/{id}/messages"},
	{"GET", "/v1/conversations/{id}/presence"},
	{"POST", "/v1/conversations/{id}/read"},
	{"POST", "/v1/gdpr/consents"},
	{"GET", "/v1/gdpr/consents"},
	{"PATCH", "/v1/gdpr/users/{id}"},
	{"POST", "/v1/gdpr/exports"},
	{"GET", "/v1/gdpr/exports/{id}"},
	{"POST", "/v1/gdpr/erasures"},
	{"GET", "/v1/gdpr/erasures/{id}"},
	{"GET", "/v1/retention/policy"},
	{"PUT", "/v1/retention/policy"},
	{"PUT", "/v1/conversations/{id}/retention"},
	{"DELETE", "/v1/conversations/{id}/retention"},
	{"POST", "/v1/conversations/{id}/media"},
	{"POST", "/v1/media/{id}/complete"},
	{"GET", "/v1/media/{id}"},
	{"POST", "/v1/retention/holds"},
	{"GET", "/v1/retention/holds"},
	{"DELETE", "/v1/retention/holds/{id}"},
	{"POST", "/v1/audit/events"},
	{"GET", "/v1/audit/events"},
	{"POST", "/v1/audit/verify"},
	{"POST", "/v1/auth/mfa/enroll"},
	{"POST", "/v1/auth/mfa/confirm"},
	{"POST", "/v1/auth/mfa/verify"},
	{"POST", "/v1/auth/mfa/disable"},
	{"POST", "/v1/auth/refresh"},
	{"POST", "/v1/auth/logout"},
	{"POST", "/v1/auth/logout-all"},
	{"GET", "/v1/auth/sessions"},
	{"DELETE", "/v1/auth/sessions/{id}"},
	{"GET", "/.well-known/jwks.json"},
	{"GET", "/.well-known/openid-configuration"},
	{"GET", "/health"},
	{"GET", "/ready"},
}

// Allowed returns the methods the routes accept for path, sorted; none means the path is
// unknown. A trailing slash makes a different path, as it does in API Gateway.
func Allowed(routes []Route, path string) []string {
	var methods []string
	for _, r := range routes {
		if matches(r.Path, path) && !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
	}
	slices.Sort(methods)
	return methods
}

func matches(template, path string) bool {
	ts := strings.Split(template, "/")
	ps := strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if t != ps[i] {
			return false
		}
	}
	return true
}
