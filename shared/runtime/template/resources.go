package template

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func parseFunction(r *resolver, name string, raw map[string]any) (*Function, error) {
	// Events are resolved one by one below, so an unsupported intrinsic elsewhere in an event
	// names the event.
	events := raw["Events"]
	delete(raw, "Events")
	resolved, err := r.resolve(raw)
	if err != nil {
		return nil, fmt.Errorf("Properties.%w", err)
	}
	p := resolved.(map[string]any)

	fn := &Function{Name: name, Environment: map[string]string{}, Handler: "bootstrap"}
	if fn.Runtime, err = optString(p, "Runtime"); err != nil {
		return nil, err
	}
	if h, err := optString(p, "Handler"); err != nil {
		return nil, err
	} else if h != "" {
		fn.Handler = h
	}
	if fn.Architectures, err = optStrings(p, "Architectures"); err != nil {
		return nil, err
	}
	timeout, err := optInt(p, "Timeout", 3)
	if err != nil {
		return nil, err
	}
	if timeout < 1 || timeout > 900 {
		return nil, fmt.Errorf("Properties.Timeout: %d is outside 1..900 seconds", timeout)
	}
	fn.Timeout = time.Duration(timeout) * time.Second
	if fn.MemorySize, err = optInt(p, "MemorySize", 128); err != nil {
		return nil, err
	}
	if fn.ReservedConcurrency, err = optInt(p, "ReservedConcurrentExecutions", 0); err != nil {
		return nil, err
	}
	if env, ok := p["Environment"]; ok && env != nil {
		em, ok := env.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Properties.Environment: not a mapping")
		}
		if vars, ok := em["Variables"]; ok && vars != nil {
			vm, ok := vars.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("Properties.Environment.Variables: not a mapping")
			}
			for k, v := range vm {
				if _, isMap := v.(map[string]any); isMap {
					return nil, fmt.Errorf("Properties.Environment.Variables.%s: not a scalar", k)
				}
				fn.Environment[k] = scalarString(v)
			}
		}
	}

	if events == nil {
		return fn, nil
	}
	em, ok := events.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Properties.Events: not a mapping")
	}
	for _, evName := range sortedKeys(em) {
		if err := parseEvent(r, fn, evName, em[evName]); err != nil {
			return nil, fmt.Errorf("Properties.Events.%s.%w", evName, err)
		}
	}
	return fn, nil
}

func parseEvent(r *resolver, fn *Function, name string, raw any) error {
	resolved, err := r.resolve(raw)
	if err != nil {
		return err
	}
	ev, ok := resolved.(map[string]any)
	if !ok {
		return fmt.Errorf("Type: the event is not a mapping")
	}
	typ, _ := ev["Type"].(string)
	props, _ := ev["Properties"].(map[string]any)
	if props == nil {
		props = map[string]any{}
	}
	switch typ {
	case "HttpApi":
		h := HTTPEvent{Name: name, API: ImplicitAPI, Method: "ANY", Path: "$default"}
		if api, err := optString(props, "ApiId"); err != nil {
			return fmt.Errorf("Properties.%w", err)
		} else if api != "" {
			h.API = api
		}
		if m, err := optString(props, "Method"); err != nil {
			return fmt.Errorf("Properties.%w", err)
		} else if m != "" {
			h.Method = strings.ToUpper(m)
		}
		if path, err := optString(props, "Path"); err != nil {
			return fmt.Errorf("Properties.%w", err)
		} else if path != "" {
			h.Path = path
		}
		if h.Path != "$default" && !strings.HasPrefix(h.Path, "/") {
			return fmt.Errorf("Properties.Path: %q must start with / or be $default", h.Path)
		}
		if h.Method == "*" {
			h.Method = "ANY"
		}
		if auth, ok := props["Auth"].(map[string]any); ok {
			if h.Authorizer, err = optString(auth, "Authorizer"); err != nil {
				return fmt.Errorf("Properties.Auth.%w", err)
			}
		}
		fn.HTTPEvents = append(fn.HTTPEvents, h)
	case "Schedule", "ScheduleV2":
		key := "Schedule"
		if typ == "ScheduleV2" {
			key = "ScheduleExpression"
		}
		expr, err := optString(props, key)
		if err != nil || expr == "" {
			return fmt.Errorf("Properties.%s: missing", key)
		}
		s := Schedule{Name: name, Expression: expr, Enabled: true}
		if typ == "ScheduleV2" {
			if s.Timezone, err = optString(props, "ScheduleExpressionTimezone"); err != nil {
				return fmt.Errorf("Properties.%w", err)
			}
		}
		if v, ok := props["Enabled"].(bool); ok {
			s.Enabled = v
		}
		if st, ok := props["State"].(string); ok && st == "DISABLED" {
			s.Enabled = false
		}
		if in, ok := props["Input"].(string); ok {
			if !json.Valid([]byte(in)) {
				return fmt.Errorf("Properties.Input: not valid JSON")
			}
			s.Input = in
		}
		fn.Schedules = append(fn.Schedules, s)
	case KafkaSelfManaged, KafkaMSK:
		k, err := parseKafkaEvent(fn.Name, name, typ, props)
		if err != nil {
			return err
		}
		fn.KafkaEvents = append(fn.KafkaEvents, k)
	case "":
		return fmt.Errorf("Type: missing")
	default:
		// Other event sources are served elsewhere or not at all; they do not make the
		// template wrong.
	}
	return nil
}

func parseHTTPAPI(r *resolver, name string, raw map[string]any) (*HTTPAPI, error) {
	resolved, err := r.resolve(raw)
	if err != nil {
		return nil, fmt.Errorf("Properties.%w", err)
	}
	p := resolved.(map[string]any)
	api := &HTTPAPI{Name: name, Authorizers: map[string]*Authorizer{}}

	if auth, ok := p["Auth"].(map[string]any); ok {
		if api.DefaultAuthorizer, err = optString(auth, "DefaultAuthorizer"); err != nil {
			return nil, fmt.Errorf("Properties.Auth.%w", err)
		}
		if auths, ok := auth["Authorizers"].(map[string]any); ok {
			for an, araw := range auths {
				a, err := parseAuthorizer(an, araw)
				if err != nil {
					return nil, fmt.Errorf("Properties.Auth.Authorizers.%s.%w", an, err)
				}
				api.Authorizers[an] = a
			}
		}
	}

	switch c := p["CorsConfiguration"].(type) {
	case nil:
	case bool:
		if c {
			api.Cors = &Cors{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
		}
	case map[string]any:
		cors := &Cors{}
		fields := []struct {
			key string
			dst *[]string
		}{
			{"AllowOrigins", &cors.AllowOrigins}, {"AllowMethods", &cors.AllowMethods},
			{"AllowHeaders", &cors.AllowHeaders}, {"ExposeHeaders", &cors.ExposeHeaders},
		}
		for _, f := range fields {
			if *f.dst, err = optStrings(c, f.key); err != nil {
				return nil, fmt.Errorf("Properties.CorsConfiguration.%w", err)
			}
		}
		if cors.MaxAge, err = optInt(c, "MaxAge", 0); err != nil {
			return nil, fmt.Errorf("Properties.CorsConfiguration.%w", err)
		}
		if v, ok := c["AllowCredentials"].(bool); ok {
			cors.AllowCredentials = v
		}
		api.Cors = cors
	default:
		return nil, fmt.Errorf("Properties.CorsConfiguration: want a mapping or a boolean")
	}
	return api, nil
}

func parseAuthorizer(name string, raw any) (*Authorizer, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("FunctionArn: the authorizer is not a mapping")
	}
	if _, ok := m["JwtConfiguration"]; ok {
		return nil, fmt.Errorf("JwtConfiguration: JWT authorizers are not supported by the local runtime")
	}
	arn, err := optString(m, "FunctionArn")
	if err != nil {
		return nil, err
	}
	_, fn, found := strings.Cut(arn, ":function:")
	if !found || fn == "" {
		return nil, fmt.Errorf("FunctionArn: %q does not name a function (use !GetAtt Fn.Arn)", arn)
	}
	a := &Authorizer{Name: name, Function: fn, PayloadVersion: "2.0"}
	if v, err := optString(m, "AuthorizerPayloadFormatVersion"); err != nil {
		return nil, err
	} else if v != "" {
		a.PayloadVersion = v
	}
	if a.PayloadVersion != "2.0" {
		return nil, fmt.Errorf("AuthorizerPayloadFormatVersion: only 2.0 is supported locally, got %s", a.PayloadVersion)
	}
	if v, ok := m["EnableSimpleResponses"].(bool); ok {
		a.SimpleResponses = v
	}
	if id, ok := m["Identity"].(map[string]any); ok {
		if a.IdentityHeaders, err = optStrings(id, "Headers"); err != nil {
			return nil, fmt.Errorf("Identity.%w", err)
		}
	}
	return a, nil
}

func scalarString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = scalarString(e)
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v)
	}
}

func optString(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any, []any:
		return "", fmt.Errorf("%s: want a string, got %T", key, v)
	default:
		return fmt.Sprint(v), nil
	}
}

func optInt(m map[string]any, key string, def int) (int, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return def, nil
	}
	n, err := strconv.Atoi(fmt.Sprint(v))
	if err != nil {
		return 0, fmt.Errorf("%s: want an integer, got %v", key, v)
	}
	return n, nil
}

func optStrings(m map[string]any, key string) ([]string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list, got %T", key, v)
	}
	out := make([]string, len(l))
	for i, e := range l {
		if _, bad := e.(map[string]any); bad {
			return nil, fmt.Errorf("%s[%d]: want a string", key, i)
		}
		out[i] = scalarString(e)
	}
	return out, nil
}
