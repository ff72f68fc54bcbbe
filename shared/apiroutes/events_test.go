package apiroutes

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestSampleEvents checks that every HTTP sample event under events/ is a well-formed payload
// 2.0 event for a route the table knows (or $default).
func TestSampleEvents(t *testing.T) {
	files, _ := filepath.Glob("../../events/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var probe struct {
			Type     string `json:"type"`
			RouteKey string `json:"routeKey"`
		}
		_ = json.Unmarshal(b, &probe)
		if probe.Type == "REQUEST" || probe.RouteKey == "" {
			continue // an authorizer event, or one of a function no HTTP route calls
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var ev events.APIGatewayV2HTTPRequest
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if ev.Version != "2.0" || ev.RequestContext.HTTP.Method == "" || ev.RawPath == "" {
			t.Errorf("%s: not a payload 2.0 event", f)
		}
		if ev.RouteKey == "$default" {
			continue
		}
		method, path, _ := strings.Cut(ev.RouteKey, " ")
		if !slices.Contains(All, Route{method, path}) || !slices.Contains(Allowed(All, ev.RawPath), method) {
			t.Errorf("%s: route %q does not match the table", f, ev.RouteKey)
		}
	}
}
