package wsapi

import (
	"fmt"
	"strings"
	"time"

	"caas.dev/shared/runtime/template"
)

// DefaultAddr is where the WebSocket API listens unless CAAS_WS_ADDR says otherwise.
const DefaultAddr = "127.0.0.1:3001"

// OptionsFromEnv reads CAAS_WS_IDLE and CAAS_WS_MAX_AGE (Go durations such as 1s or 10m);
// unset ones keep API Gateway's limits.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	var o Options
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"CAAS_WS_IDLE", &o.Idle}, {"CAAS_WS_MAX_AGE", &o.MaxAge}} {
		s := getenv(v.name)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return Options{}, fmt.Errorf("%s=%q: want a positive duration such as 30s or 10m", v.name, s)
		}
		*v.dst = d
	}
	return o, nil
}

// RewriteEndpoints points the variables of env that name a WebSocket API's AWS endpoint
// (https://{apiId}.execute-api.{region}.amazonaws.com[/stage], or wss://) at the local server on
// addr, so a function's management API client and its clients' URLs work unchanged.
func RewriteEndpoints(env map[string]string, apis map[string]*template.WebSocketAPI, addr string) {
	var pairs []string
	for _, api := range apis {
		host := api.ID + ".execute-api." + template.Region + ".amazonaws.com"
		pairs = append(pairs, "https://"+host, "http://"+addr, "wss://"+host, "ws://"+addr)
	}
	if len(pairs) == 0 {
		return
	}
	r := strings.NewReplacer(pairs...)
	for k, v := range env {
		env[k] = r.Replace(v)
	}
}
