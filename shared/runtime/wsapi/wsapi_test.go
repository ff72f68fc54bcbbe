package wsapi

import (
	"testing"
	"time"

	"caas.dev/shared/runtime/template"
)

func TestAllows(t *testing.T) {
	arn := "arn:aws:execute-api:us-east-1:000000000000:ws/live/$connect"
	allow := func(res string) policyStatement {
		return policyStatement{Action: stringOrList{"execute-api:Invoke"}, Effect: "Allow", Resource: stringOrList{res}}
	}
	tests := []struct {
		name string
		sts  []policyStatement
		want bool
	}{
		{"exact", []policyStatement{allow(arn)}, true},
		{"wildcards", []policyStatement{allow("arn:aws:execute-api:*:*:ws/*")}, true},
		{"question mark", []policyStatement{allow("arn:aws:execute-api:us-east-1:000000000000:w?/live/$connect")}, true},
		{"other api", []policyStatement{allow("arn:aws:execute-api:us-east-1:000000000000:other/*")}, false},
		{"deny wins", []policyStatement{allow(arn), {Action: stringOrList{"*"}, Effect: "Deny", Resource: stringOrList{"*"}}}, false},
		{"other action", []policyStatement{{Action: stringOrList{"s3:GetObject"}, Effect: "Allow", Resource: stringOrList{"*"}}}, false},
		{"no statement", nil, false},
	}
	for _, tt := range tests {
		if got := allows(tt.sts, arn); got != tt.want {
			t.Errorf("%s: allows = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRewriteEndpoints(t *testing.T) {
	apis := map[string]*template.WebSocketAPI{"WebSocketApi": {ID: "websocketapi"}}
	env := map[string]string{
		"CAAS_WS_ENDPOINT": "https://websocketapi.execute-api.us-east-1.amazonaws.com/live",
		"URL":              "wss://websocketapi.execute-api.us-east-1.amazonaws.com/live",
		"OTHER":            "https://other.execute-api.us-east-1.amazonaws.com/live",
	}
	RewriteEndpoints(env, apis, "127.0.0.1:3001")
	want := map[string]string{
		"CAAS_WS_ENDPOINT": "http://127.0.0.1:3001/live", "URL": "ws://127.0.0.1:3001/live",
		"OTHER": "https://other.execute-api.us-east-1.amazonaws.com/live",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestOptionsFromEnv(t *testing.T) {
	o, err := OptionsFromEnv(func(k string) string { return map[string]string{"CAAS_WS_IDLE": "1s"}[k] })
	if err != nil || o.Idle != time.Second || o.MaxAge != 0 {
		t.Errorf("options %+v, %v", o, err)
	}
	for _, bad := range []string{"soon", "-1s", "0"} {
		if _, err := OptionsFromEnv(func(string) string { return bad }); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
