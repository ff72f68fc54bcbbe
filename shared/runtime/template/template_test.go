package template

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseGood(t *testing.T) {
	tmpl, err := Load(filepath.Join("testdata", "good.yaml"), map[string]string{"Secret": "s3"})
	if err != nil {
		t.Fatal(err)
	}
	fn := tmpl.Functions["CreateTenant"]
	if fn == nil {
		t.Fatal("CreateTenant missing")
	}
	if fn.Timeout != 3*time.Second || fn.MemorySize != 256 || fn.ReservedConcurrency != 2 {
		t.Errorf("timeout %v memory %d reserved %d", fn.Timeout, fn.MemorySize, fn.ReservedConcurrency)
	}
	wantEnv := map[string]string{
		"DB": "mongodb://default", "SHARED": "mine", "REGION": "us-east-1-000000000000",
		"SECRET": "s3", "JOINED": "a/mongodb://default", "PICK": "y",
		"LONG": "mongodb://default-Api", "ESC": "${Literal}",
	}
	for k, want := range wantEnv {
		if got := fn.Environment[k]; got != want {
			t.Errorf("env %s = %q, want %q", k, got, want)
		}
	}
	if len(fn.HTTPEvents) != 1 {
		t.Fatalf("http events %+v", fn.HTTPEvents)
	}
	ev := fn.HTTPEvents[0]
	if ev.API != "Api" || ev.Method != "POST" || ev.Path != "/v1/tenants/{id}" || ev.Authorizer != NoAuthorizer {
		t.Errorf("event %+v", ev)
	}
	if len(fn.Schedules) != 1 || fn.Schedules[0].Expression != "rate(1 minute)" {
		t.Errorf("schedules %+v", fn.Schedules)
	}
	auth := tmpl.Functions["Auth"]
	if auth.Timeout != 10*time.Second || auth.Environment["SHARED"] != "global" {
		t.Errorf("globals not merged into Auth: %+v", auth)
	}
	api := tmpl.HTTPAPIs["Api"]
	if api == nil || api.DefaultAuthorizer != "Tok" {
		t.Fatalf("api %+v", api)
	}
	a := api.Authorizers["Tok"]
	if a.Function != "Auth" || !a.SimpleResponses || len(a.IdentityHeaders) != 1 || a.IdentityHeaders[0] != "Authorization" {
		t.Errorf("authorizer %+v", a)
	}
	if api.Cors == nil || api.Cors.MaxAge != 600 || api.Cors.AllowOrigins[0] != "https://app.example" {
		t.Errorf("cors %+v", api.Cors)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error
	}{
		{"bad-authorizer.yaml", []string{"resource Api", "FunctionArn", "Missing"}},
		{"bad-ref.yaml", []string{"resource Fn", "Environment", "Nowhere"}},
		{"bad-timeout.yaml", []string{"resource Fn", "Timeout"}},
		{"bad-api.yaml", []string{"resource Fn", "Events.Get", "ApiId"}},
		{"bad-route-auth.yaml", []string{"resource Fn", "Auth.Authorizer", "Ghost"}},
		{"bad-notype.yaml", []string{"resource Fn", "Type"}},
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

func TestProjectTemplate(t *testing.T) {
	tmpl, err := Load(filepath.Join("..", "..", "..", "template.yaml"), map[string]string{"AdminKey": "k"})
	if err != nil {
		t.Fatalf("project template: %v", err)
	}
	if tmpl.Functions["CreateTenant"].Environment["CAAS_ADMIN_KEY"] != "k" {
		t.Errorf("AdminKey not resolved: %v", tmpl.Functions["CreateTenant"].Environment)
	}
	if tmpl.HTTPAPIs["HttpApi"].Authorizers["TokenAuthorizer"].Function != "Authorizer" {
		t.Errorf("authorizer function not resolved")
	}
}

func TestKebabCase(t *testing.T) {
	tests := map[string]string{
		"CreateTenant": "create-tenant", "GetMe": "get-me", "Migrate": "migrate",
		"HTTPProxy": "http-proxy", "Echo2Go": "echo2-go", "InitFail": "init-fail",
	}
	for in, want := range tests {
		if got := KebabCase(in); got != want {
			t.Errorf("KebabCase(%q) = %q, want %q", in, got, want)
		}
	}
}
