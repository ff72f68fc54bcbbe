// Package template reads an AWS SAM template into what the local runtime needs: functions with
// their resolved environment, HTTP API routes, authorizers, CORS, schedules and the WebSocket
// API (AWS::ApiGatewayV2 resources). Intrinsic functions (Ref, Fn::Sub, Fn::GetAtt, Fn::Join,
// Fn::Select, Fn::Split, Fn::If with the Conditions section, Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, Condition) are evaluated against parameter values and the pseudo parameters of a local
// account; AWS::NoValue removes the key or element holding it.
package template

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	typeFunction = "AWS::Serverless::Function"
	typeHTTPAPI  = "AWS::Serverless::HttpApi"

	// ImplicitAPI is the logical id SAM gives the HTTP API of events that name no ApiId.
	ImplicitAPI = "ServerlessHttpApi"
	// NoAuthorizer is the authorizer name that turns authorization off for a route.
	NoAuthorizer = "NONE"
)

// Template is a parsed and resolved SAM template.
type Template struct {
	// Parameters holds every parameter's resolved value.
	Parameters map[string]string
	// Functions maps logical ids to functions.
	Functions map[string]*Function
	// HTTPAPIs maps logical ids to HTTP APIs, including the implicit one when used.
	HTTPAPIs map[string]*HTTPAPI
	// WebSocketAPIs maps logical ids to the AWS::ApiGatewayV2 WebSocket APIs.
	WebSocketAPIs map[string]*WebSocketAPI
}

// FunctionNames returns the logical ids of the functions in sorted order.
func (t *Template) FunctionNames() []string {
	return slices.Sorted(maps.Keys(t.Functions))
}

// Function is an AWS::Serverless::Function with Globals merged in.
type Function struct {
	Name          string
	Runtime       string
	Handler       string
	Architectures []string
	Timeout       time.Duration
	MemorySize    int
	// ReservedConcurrency is ReservedConcurrentExecutions, 0 when unset.
	ReservedConcurrency int
	Environment         map[string]string
	HTTPEvents          []HTTPEvent
	Schedules           []Schedule
	// KafkaEvents are the SelfManagedKafka and MSK event sources.
	KafkaEvents []KafkaEvent
}

// HTTPEvent is an HttpApi event source: one route of an HTTP API.
type HTTPEvent struct {
	Name   string
	API    string // logical id of the HTTP API
	Method string // upper case, or ANY
	Path   string // /v1/x/{id}, /{proxy+} or $default
	// Authorizer names the route's authorizer: empty for the API's default, NoAuthorizer for none.
	Authorizer string
}

// Schedule is a Schedule or ScheduleV2 event source.
type Schedule struct {
	Name       string
	Expression string // rate(...) or cron(...)
	Input      string // the event's JSON when the template sets one
	Enabled    bool
	// Timezone is ScheduleV2's ScheduleExpressionTimezone (an IANA name); empty means UTC.
	Timezone string
}

// HTTPAPI is an AWS::Serverless::HttpApi.
type HTTPAPI struct {
	Name              string
	DefaultAuthorizer string
	Authorizers       map[string]*Authorizer
	Cors              *Cors
}

// Authorizer is a Lambda REQUEST authorizer of an HTTP API.
type Authorizer struct {
	Name            string
	Function        string // logical id of the authorizer function
	IdentityHeaders []string
	PayloadVersion  string
	SimpleResponses bool
}

// Cors is an HTTP API's CorsConfiguration.
type Cors struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	MaxAge           int
	AllowCredentials bool
}

// Load reads and parses the template at path; overrides replace parameter values.
func Load(path string, overrides map[string]string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data, overrides)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a SAM template. Parameter values come from their Default, then overrides.
func Parse(data []byte, overrides map[string]string) (*Template, error) {
	doc, err := decodeYAML(data)
	if err != nil {
		return nil, err
	}
	params, err := parameters(doc, overrides)
	if err != nil {
		return nil, err
	}
	resources, ok := doc["Resources"].(map[string]any)
	if !ok || len(resources) == 0 {
		return nil, fmt.Errorf("Resources: missing or not a mapping")
	}

	conds, err := parseConditions(doc)
	if err != nil {
		return nil, err
	}
	r := &resolver{params: params, resources: map[string]string{}, conds: conds, physical: map[string]string{}}
	for name, raw := range resources {
		res, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("resource %s: not a mapping", name)
		}
		typ, ok := res["Type"].(string)
		if !ok || typ == "" {
			return nil, fmt.Errorf("resource %s: Type: missing", name)
		}
		r.resources[name] = typ
	}
	if err := r.dropConditional(resources); err != nil {
		return nil, err
	}
	if err := r.physicalIDs(resources); err != nil {
		return nil, err
	}

	var globalFn map[string]any
	if g, ok := doc["Globals"].(map[string]any); ok {
		if f, ok := g["Function"].(map[string]any); ok {
			globalFn = f
		} else if g["Function"] != nil {
			return nil, fmt.Errorf("Globals.Function: not a mapping")
		}
	}

	t := &Template{Parameters: params, Functions: map[string]*Function{}, HTTPAPIs: map[string]*HTTPAPI{}}
	for name, typ := range r.resources {
		props, err := properties(resources[name])
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		switch typ {
		case typeFunction:
			props = merge(globalFn, props)
			fn, err := parseFunction(r, name, props)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", name, err)
			}
			t.Functions[name] = fn
		case typeHTTPAPI:
			api, err := parseHTTPAPI(r, name, props)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", name, err)
			}
			t.HTTPAPIs[name] = api
		}
	}
	if t.WebSocketAPIs, err = parseWebSockets(r, resources, t.Functions); err != nil {
		return nil, err
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

func parameters(doc map[string]any, overrides map[string]string) (map[string]string, error) {
	params := map[string]string{}
	if raw, ok := doc["Parameters"]; ok && raw != nil {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Parameters: not a mapping")
		}
		for name, p := range m {
			pm, ok := p.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("parameter %s: not a mapping", name)
			}
			if d, ok := pm["Default"]; ok && d != nil {
				params[name] = scalarString(d)
			} else {
				// A deployment must supply it; locally an unset parameter is empty.
				params[name] = ""
			}
		}
	}
	for k, v := range overrides {
		params[k] = v
	}
	return params, nil
}

func properties(raw any) (map[string]any, error) {
	res := raw.(map[string]any)
	p, ok := res["Properties"]
	if !ok || p == nil {
		return map[string]any{}, nil
	}
	m, ok := p.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Properties: not a mapping")
	}
	return m, nil
}

// merge returns global with fn laid over it: maps merge key by key, anything else from fn wins.
func merge(global, fn map[string]any) map[string]any {
	out := make(map[string]any, len(global)+len(fn))
	maps.Copy(out, global)
	for k, v := range fn {
		gm, ok1 := out[k].(map[string]any)
		fm, ok2 := v.(map[string]any)
		if ok1 && ok2 && !isIntrinsic(fm) {
			out[k] = merge(gm, fm)
			continue
		}
		out[k] = v
	}
	return out
}

func isIntrinsic(m map[string]any) bool {
	if len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// check verifies the references between resources.
func (t *Template) check() error {
	for _, fn := range t.Functions {
		for _, ev := range fn.HTTPEvents {
			api, ok := t.HTTPAPIs[ev.API]
			if !ok {
				if ev.API != ImplicitAPI {
					return fmt.Errorf("resource %s: Events.%s.Properties.ApiId: %s is not an AWS::Serverless::HttpApi", fn.Name, ev.Name, ev.API)
				}
				api = &HTTPAPI{Name: ImplicitAPI, Authorizers: map[string]*Authorizer{}}
				t.HTTPAPIs[ImplicitAPI] = api
			}
			if ev.Authorizer != "" && ev.Authorizer != NoAuthorizer {
				if _, ok := api.Authorizers[ev.Authorizer]; !ok {
					return fmt.Errorf("resource %s: Events.%s.Properties.Auth.Authorizer: %s is not an authorizer of %s", fn.Name, ev.Name, ev.Authorizer, api.Name)
				}
			}
		}
	}
	for _, api := range t.HTTPAPIs {
		if api.DefaultAuthorizer != "" {
			if _, ok := api.Authorizers[api.DefaultAuthorizer]; !ok {
				return fmt.Errorf("resource %s: Auth.DefaultAuthorizer: %s is not in Auth.Authorizers", api.Name, api.DefaultAuthorizer)
			}
		}
		for _, a := range api.Authorizers {
			if _, ok := t.Functions[a.Function]; !ok {
				return fmt.Errorf("resource %s: Auth.Authorizers.%s.FunctionArn: %s is not a function of this template", api.Name, a.Name, a.Function)
			}
		}
	}
	return nil
}

// KebabCase turns a logical id into the directory name of its function: CreateTenant ->
// create-tenant, HTTPProxy -> http-proxy.
func KebabCase(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, c := range rs {
		upper := c >= 'A' && c <= 'Z'
		if upper && i > 0 {
			prev := rs[i-1]
			prevLowerOrDigit := (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9')
			nextLower := i+1 < len(rs) && rs[i+1] >= 'a' && rs[i+1] <= 'z'
			prevUpper := prev >= 'A' && prev <= 'Z'
			if prevLowerOrDigit || (prevUpper && nextLower) {
				b.WriteByte('-')
			}
		}
		if upper {
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
