package template

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseWebSocket(t *testing.T) {
	tmpl, err := Load(filepath.Join("testdata", "ws-good.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	api := tmpl.WebSocketAPIs["Ws"]
	if api == nil {
		t.Fatalf("no WebSocket API: %+v", tmpl.WebSocketAPIs)
	}
	if api.ID != "ws" || api.RouteSelectionExpression != "$request.body.action" || len(api.Stages) != 1 || api.Stages[0] != "live" {
		t.Errorf("api %+v", api)
	}
	if len(api.Routes) != 2 {
		t.Fatalf("routes %v (a route under a false Condition must be dropped)", api.Routes)
	}
	c := api.Routes["$connect"]
	if c == nil || c.Function != "Handler" || c.Authorizer == nil || c.Authorizer.Function != "AuthFn" ||
		len(c.Authorizer.IdentitySource) != 1 || c.Authorizer.IdentitySource[0] != "route.request.querystring.token" {
		t.Errorf("$connect route %+v (authorizer %+v)", c, c.Authorizer)
	}
	if s := api.Routes["send"]; s == nil || s.Function != "Handler" || s.Authorizer != nil {
		t.Errorf("send route %+v", s)
	}

	env := tmpl.Functions["Handler"].Environment
	want := map[string]string{
		"WS":        "https://ws.execute-api.us-east-1.amazonaws.com/live",
		"PARTITION": "aws", "BROKER2": "b:9092", "OR": "yes",
		"ENDPOINT": "wss://ws.execute-api.us-east-1.amazonaws.com",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if v, ok := env["GONE"]; ok {
		t.Errorf("AWS::NoValue left GONE=%q", v)
	}
}

func TestConditionsFollowParameters(t *testing.T) {
	tmpl, err := Load(filepath.Join("testdata", "ws-good.yaml"), map[string]string{"Env": "dev", "Secret": "arn:s"})
	if err != nil {
		t.Fatal(err)
	}
	env := tmpl.Functions["Handler"].Environment
	if env["GONE"] != "x" || env["OR"] != "yes" || env["WS"] != "https://ws.execute-api.us-east-1.amazonaws.com/dev" {
		t.Errorf("env %v", env)
	}
	tmpl, err = Load(filepath.Join("testdata", "ws-good.yaml"), map[string]string{"Env": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tmpl.Functions["Handler"].Environment["OR"]; got != "no" {
		t.Errorf("Fn::Or of two false conditions gave %q", got)
	}
}

func TestParseWebSocketErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"ws-bad-target.yaml", []string{"resource Route", "Target", "integrations/Missing"}},
		{"ws-bad-api.yaml", []string{"resource Stage", "ApiId", "Other"}},
		{"ws-bad-uri.yaml", []string{"resource Integ", "IntegrationUri", "Ghost"}},
		{"ws-bad-authorizer.yaml", []string{"resource Route", "AuthorizerId", "Nobody"}},
		{"bad-condition.yaml", []string{"Condition Loop", "itself"}},
		{"bad-condition-name.yaml", []string{"resource Fn", "Undeclared"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file), nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestProjectTemplateWebSocket(t *testing.T) {
	tmpl, err := Load(filepath.Join("..", "..", "..", "template.yaml"), map[string]string{"AdminKey": "k"})
	if err != nil {
		t.Fatalf("project template: %v", err)
	}
	api := tmpl.WebSocketAPIs["WebSocketApi"]
	if api == nil {
		t.Fatal("WebSocketApi missing")
	}
	wantRoutes := map[string]string{"$connect": "WsConnect", "$disconnect": "WsDisconnect", "$default": "WsDefault"}
	for key, fn := range wantRoutes {
		if r := api.Routes[key]; r == nil || r.Function != fn {
			t.Errorf("route %s = %+v, want function %s", key, r, fn)
		}
	}
	if a := api.Routes["$connect"].Authorizer; a == nil || a.Function != "WsAuthorizer" {
		t.Errorf("$connect authorizer %+v", a)
	}
	got := tmpl.Functions["WsDefault"].Environment["CAAS_WS_ENDPOINT"]
	if got != "https://websocketapi.execute-api.us-east-1.amazonaws.com/live" {
		t.Errorf("CAAS_WS_ENDPOINT = %q", got)
	}
}
