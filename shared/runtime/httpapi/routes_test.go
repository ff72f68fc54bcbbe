package httpapi

import (
	"testing"

	"caas.dev/shared/runtime/template"
)

func TestLookup(t *testing.T) {
	evs := []template.HTTPEvent{
		{Method: "GET", Path: "/v1/users/{id}"},
		{Method: "GET", Path: "/v1/users/me"},
		{Method: "ANY", Path: "/v1/users/{id}"},
		{Method: "ANY", Path: "/v1/{proxy+}"},
		{Method: "GET", Path: "/v1/users/{id}/{proxy+}"},
		{Method: "ANY", Path: "$default"},
	}
	var tb table
	for _, ev := range evs {
		r := newRoute(ev, ev.Method+" "+ev.Path, nil)
		if r.key == "$default" {
			tb.def = r
		} else {
			tb.routes = append(tb.routes, r)
		}
	}
	sortRoutes(tb.routes)
	tests := []struct{ method, path, want string }{
		{"GET", "/v1/users/me", "GET /v1/users/me"},
		{"GET", "/v1/users/usr_1", "GET /v1/users/{id}"},
		{"DELETE", "/v1/users/usr_1", "ANY /v1/users/{id}"},
		{"GET", "/v1/users/usr_1/a/b", "GET /v1/users/{id}/{proxy+}"},
		{"POST", "/v1/users/usr_1/a/b", "ANY /v1/{proxy+}"},
		{"GET", "/v1", "$default"},
		{"GET", "/other", "$default"},
	}
	for _, tt := range tests {
		r, _ := tb.lookup(tt.method, tt.path)
		if r == nil || r.key != tt.want {
			t.Errorf("%s %s -> %v, want %s", tt.method, tt.path, r, tt.want)
		}
	}
}

func TestMapResponse(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		status  int
		body    string
		wantErr bool
	}{
		{"structured", `{"statusCode":204}`, 204, "", false},
		{"bare object", `{"a":1}`, 200, `{"a":1}`, false},
		{"bare string", `"hi"`, 200, `"hi"`, false},
		{"base64", `{"statusCode":200,"body":"aGk=","isBase64Encoded":true}`, 200, "hi", false},
		{"bad base64", `{"statusCode":200,"body":"!!","isBase64Encoded":true}`, 0, "", true},
		{"bad status", `{"statusCode":42}`, 0, "", true},
		{"not json", `nope`, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body, err := mapResponse([]byte(tt.payload))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if status != tt.status || string(body) != tt.body {
				t.Errorf("got %d %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
}
