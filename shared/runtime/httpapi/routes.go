package httpapi

import (
	"sort"
	"strings"

	"caas.dev/shared/runtime/template"
)

// route is one route of the HTTP API.
type route struct {
	key        string // "POST /v1/x/{id}", or "$default"
	method     string // upper case or ANY
	segments   []string
	greedy     bool // the last segment is {name+}
	function   string
	authorizer *template.Authorizer // nil when the route is open
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func paramName(seg string) string { return strings.TrimSuffix(strings.Trim(seg, "{}"), "+") }

func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return []string{}
	}
	return strings.Split(p, "/")
}

func newRoute(ev template.HTTPEvent, fn string, auth *template.Authorizer) *route {
	r := &route{method: ev.Method, function: fn, authorizer: auth}
	if ev.Path == "$default" {
		r.key = "$default"
		return r
	}
	r.key = ev.Method + " " + ev.Path
	r.segments = splitPath(ev.Path)
	if n := len(r.segments); n > 0 && strings.HasSuffix(r.segments[n-1], "+}") {
		r.greedy = true
	}
	return r
}

// match reports whether the route serves method and path, and its path parameters.
func (r *route) match(method string, segs []string) (map[string]string, bool) {
	if r.method != "ANY" && r.method != method {
		return nil, false
	}
	n := len(r.segments)
	if r.greedy {
		if len(segs) < n {
			return nil, false
		}
	} else if len(segs) != n {
		return nil, false
	}
	var params map[string]string
	for i, rs := range r.segments {
		if r.greedy && i == n-1 {
			rest := strings.Join(segs[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[paramName(rs)] = rest
			break
		}
		if isParam(rs) {
			if segs[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[paramName(rs)] = segs[i]
			continue
		}
		if rs != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// sortRoutes orders routes by how specifically they match, as API Gateway chooses among the
// routes that match a request: full matches before greedy ones, literal segments before
// parameters, longer greedy prefixes first, and an exact method before ANY.
func sortRoutes(rs []*route) {
	sort.SliceStable(rs, func(a, b int) bool {
		x, y := rs[a], rs[b]
		if x.greedy != y.greedy {
			return !x.greedy
		}
		if x.greedy && len(x.segments) != len(y.segments) {
			return len(x.segments) > len(y.segments)
		}
		for i := 0; i < len(x.segments) && i < len(y.segments); i++ {
			px, py := isParam(x.segments[i]), isParam(y.segments[i])
			if px != py {
				return !px
			}
		}
		return x.method != "ANY" && y.method == "ANY"
	})
}

// table is the routes of one HTTP API.
type table struct {
	routes []*route
	def    *route // $default, or nil
}

func (t *table) lookup(method, path string) (*route, map[string]string) {
	segs := splitPath(path)
	for _, r := range t.routes {
		if params, ok := r.match(method, segs); ok {
			return r, params
		}
	}
	return t.def, nil
}
