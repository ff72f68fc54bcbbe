package template

import (
	"fmt"
	"slices"
	"strings"
)

const (
	typeV2API         = "AWS::ApiGatewayV2::Api"
	typeV2Stage       = "AWS::ApiGatewayV2::Stage"
	typeV2Route       = "AWS::ApiGatewayV2::Route"
	typeV2Integration = "AWS::ApiGatewayV2::Integration"
	typeV2Authorizer  = "AWS::ApiGatewayV2::Authorizer"
)

// WebSocketAPI is an AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET, with the stages,
// routes and authorizers that name it.
type WebSocketAPI struct {
	Name string // logical id
	// ID is the apiId: Ref of the Api answers it, and it names the API in endpoints and ARNs.
	ID string
	// RouteSelectionExpression is, for example, $request.body.action.
	RouteSelectionExpression string
	// Stages holds the StageName of every Stage of the API, sorted.
	Stages []string
	// Routes maps route keys ($connect, $disconnect, $default, sendMessage) to routes.
	Routes map[string]*WebSocketRoute
}

// WebSocketRoute is an AWS::ApiGatewayV2::Route with its AWS_PROXY integration resolved.
type WebSocketRoute struct {
	Name     string // logical id
	Key      string
	Function string // logical id of the integration's function
	// Authorizer is the route's REQUEST authorizer; nil when AuthorizationType is NONE.
	Authorizer *WebSocketAuthorizer
}

// WebSocketAuthorizer is a REQUEST AWS::ApiGatewayV2::Authorizer.
type WebSocketAuthorizer struct {
	Name     string // logical id
	Function string // logical id of the authorizer function
	// IdentitySource lists where the identity must be, such as route.request.querystring.token
	// or route.request.header.Authorization; empty means the authorizer always runs.
	IdentitySource []string
}

// physicalIDs records what Ref answers for the WebSocket resources: an Api its apiId (the
// lower-cased logical id, stable across runs) and a Stage its StageName.
func (r *resolver) physicalIDs(resources map[string]any) error {
	for name, typ := range r.resources {
		if typ == typeV2API {
			r.physical[name] = strings.ToLower(name)
		}
	}
	for name, typ := range r.resources {
		if typ != typeV2Stage {
			continue
		}
		props, err := properties(resources[name])
		if err != nil {
			return fmt.Errorf("resource %s: %w", name, err)
		}
		v, err := r.resolve(props["StageName"])
		if err != nil {
			return fmt.Errorf("resource %s: Properties.StageName: %w", name, err)
		}
		stage, ok := v.(string)
		if !ok || stage == "" {
			return fmt.Errorf("resource %s: Properties.StageName: missing", name)
		}
		r.physical[name] = stage
	}
	return nil
}

// parseWebSockets reads the WebSocket APIs and their stages, routes, integrations and
// authorizers, checking every reference between them.
func parseWebSockets(r *resolver, resources map[string]any, fns map[string]*Function) (map[string]*WebSocketAPI, error) {
	props := map[string]map[string]any{}
	for name, typ := range r.resources {
		if !strings.HasPrefix(typ, "AWS::ApiGatewayV2::") {
			continue
		}
		raw, err := properties(resources[name])
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		v, err := r.resolve(raw)
		if err != nil {
			return nil, fmt.Errorf("resource %s: Properties.%w", name, err)
		}
		props[name] = v.(map[string]any)
	}

	apis := map[string]*WebSocketAPI{}
	byID := map[string]*WebSocketAPI{}
	for name, p := range props {
		if r.resources[name] != typeV2API {
			continue
		}
		if proto, _ := optString(p, "ProtocolType"); proto != "WEBSOCKET" {
			continue // HTTP APIs of this type are not served locally
		}
		api := &WebSocketAPI{Name: name, ID: r.physical[name], Routes: map[string]*WebSocketRoute{}}
		api.RouteSelectionExpression, _ = optString(p, "RouteSelectionExpression")
		if api.RouteSelectionExpression == "" {
			api.RouteSelectionExpression = "$request.body.action"
		}
		if !strings.HasPrefix(api.RouteSelectionExpression, "$request.body.") {
			return nil, fmt.Errorf("resource %s: Properties.RouteSelectionExpression: %q: only $request.body.<field> is supported locally", name, api.RouteSelectionExpression)
		}
		apis[name], byID[api.ID] = api, api
	}
	apiOf := func(name string, p map[string]any) (*WebSocketAPI, error) {
		id, err := optString(p, "ApiId")
		if err != nil {
			return nil, fmt.Errorf("resource %s: Properties.%w", name, err)
		}
		api, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("resource %s: Properties.ApiId: %q is not a WebSocket AWS::ApiGatewayV2::Api of this template (use !Ref)", name, id)
		}
		return api, nil
	}

	for _, name := range sortedKeys(anyMap(props)) {
		p := props[name]
		switch r.resources[name] {
		case typeV2Stage:
			api, err := apiOf(name, p)
			if err != nil {
				return nil, err
			}
			api.Stages = append(api.Stages, r.physical[name])
			slices.Sort(api.Stages)
		case typeV2Route:
			api, err := apiOf(name, p)
			if err != nil {
				return nil, err
			}
			rt, err := parseRoute(r, name, p, props, fns)
			if err != nil {
				return nil, err
			}
			if other, dup := api.Routes[rt.Key]; dup {
				return nil, fmt.Errorf("resource %s: Properties.RouteKey: %s is also the key of %s", name, rt.Key, other.Name)
			}
			api.Routes[rt.Key] = rt
		case typeV2Integration, typeV2Authorizer:
			if _, err := apiOf(name, p); err != nil {
				return nil, err
			}
		}
	}
	return apis, nil
}

func parseRoute(r *resolver, name string, p map[string]any, props map[string]map[string]any, fns map[string]*Function) (*WebSocketRoute, error) {
	rt := &WebSocketRoute{Name: name}
	var err error
	if rt.Key, err = optString(p, "RouteKey"); err != nil || rt.Key == "" {
		return nil, fmt.Errorf("resource %s: Properties.RouteKey: missing", name)
	}
	target, _ := optString(p, "Target")
	integ, found := strings.CutPrefix(target, "integrations/")
	if !found || r.resources[integ] != typeV2Integration {
		return nil, fmt.Errorf("resource %s: Properties.Target: %q is not integrations/<an AWS::ApiGatewayV2::Integration of this template>", name, target)
	}
	ip := props[integ]
	if typ, _ := optString(ip, "IntegrationType"); typ != "AWS_PROXY" {
		return nil, fmt.Errorf("resource %s: Properties.IntegrationType: %q: only AWS_PROXY is supported locally", integ, typ)
	}
	uri, _ := optString(ip, "IntegrationUri")
	if rt.Function, err = uriFunction(uri, fns); err != nil {
		return nil, fmt.Errorf("resource %s: Properties.IntegrationUri: %w", integ, err)
	}

	authType, _ := optString(p, "AuthorizationType")
	switch authType {
	case "", "NONE":
	case "CUSTOM":
		id, _ := optString(p, "AuthorizerId")
		if r.resources[id] != typeV2Authorizer {
			return nil, fmt.Errorf("resource %s: Properties.AuthorizerId: %q is not an AWS::ApiGatewayV2::Authorizer of this template (use !Ref)", name, id)
		}
		if rt.Authorizer, err = parseWSAuthorizer(id, props[id], fns); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("resource %s: Properties.AuthorizationType: %s is not supported locally (NONE or CUSTOM)", name, authType)
	}
	if rt.Authorizer != nil && rt.Key != "$connect" {
		return nil, fmt.Errorf("resource %s: Properties.AuthorizerId: only the $connect route takes an authorizer", name)
	}
	return rt, nil
}

func parseWSAuthorizer(name string, p map[string]any, fns map[string]*Function) (*WebSocketAuthorizer, error) {
	if typ, _ := optString(p, "AuthorizerType"); typ != "REQUEST" {
		return nil, fmt.Errorf("resource %s: Properties.AuthorizerType: %q: WebSocket APIs take REQUEST authorizers", name, typ)
	}
	a := &WebSocketAuthorizer{Name: name}
	uri, _ := optString(p, "AuthorizerUri")
	var err error
	if a.Function, err = uriFunction(uri, fns); err != nil {
		return nil, fmt.Errorf("resource %s: Properties.AuthorizerUri: %w", name, err)
	}
	if a.IdentitySource, err = optStrings(p, "IdentitySource"); err != nil {
		return nil, fmt.Errorf("resource %s: Properties.%w", name, err)
	}
	for _, src := range a.IdentitySource {
		if !strings.HasPrefix(src, "route.request.header.") && !strings.HasPrefix(src, "route.request.querystring.") {
			return nil, fmt.Errorf("resource %s: Properties.IdentitySource: %q: want route.request.header.<name> or route.request.querystring.<name>", name, src)
		}
	}
	return a, nil
}

// uriFunction returns the function an integration or authorizer URI invokes:
// arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations.
func uriFunction(uri string, fns map[string]*Function) (string, error) {
	_, rest, found := strings.Cut(uri, ":function:")
	fn, _, found2 := strings.Cut(rest, "/invocations")
	fn, _, _ = strings.Cut(fn, ":") // an alias or version qualifier
	if !found || !found2 || fn == "" {
		return "", fmt.Errorf("%q does not invoke a function (use !Sub ...functions/${Fn.Arn}/invocations)", uri)
	}
	if _, ok := fns[fn]; !ok {
		return "", fmt.Errorf("%s is not a function of this template", fn)
	}
	return fn, nil
}

func anyMap(m map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
