// Command wsfn is every function of the WebSocket test template: the REQUEST authorizer, the
// $connect, $disconnect and message routes. Each event it receives is written to
// $EVENT_DIR/<connectionId>/<kind>-<requestId>.json so tests can read what the runtime sent.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/apigw"
)

type event struct {
	Type              string              `json:"type"`
	MethodArn         string              `json:"methodArn"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Query             map[string]string   `json:"queryStringParameters"`
	Body              string              `json:"body"`
	RequestContext    struct {
		RouteKey     string `json:"routeKey"`
		EventType    string `json:"eventType"`
		ConnectionID string `json:"connectionId"`
		RequestID    string `json:"requestId"`
	} `json:"requestContext"`
}

func record(kind string, ev event, raw json.RawMessage) {
	dir := filepath.Join(os.Getenv("EVENT_DIR"), ev.RequestContext.ConnectionID)
	_ = os.MkdirAll(dir, 0o700)
	tmp := filepath.Join(dir, "."+kind+"-"+ev.RequestContext.RequestID)
	_ = os.WriteFile(tmp, raw, 0o600)
	_ = os.Rename(tmp, filepath.Join(dir, kind+"-"+ev.RequestContext.RequestID+".json"))
}

// token is the ?token= parameter, else the second subprotocol offered ("caas, <token>").
func token(ev event) string {
	if t := ev.Query["token"]; t != "" {
		return t
	}
	protos := strings.Split(ev.Headers["Sec-WebSocket-Protocol"], ",")
	if len(protos) == 2 {
		return strings.TrimSpace(protos[1])
	}
	return ""
}

func authorize(ev event) (any, error) {
	resource := ev.MethodArn
	effect := "Allow"
	switch token(ev) {
	case "good":
	case "wild":
		resource = "arn:aws:execute-api:*:*:*/*/$connect"
	case "deny":
		effect = "Deny"
	case "elsewhere":
		resource = "arn:aws:execute-api:us-east-1:000000000000:otherapi/*/$connect"
	case "boom":
		return nil, errors.New("authorizer broke")
	default:
		effect = "Deny"
	}
	return map[string]any{
		"principalId": "usr_1",
		"policyDocument": map[string]any{
			"Version":   "2012-10-17",
			"Statement": []any{map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}},
		},
		"context": map[string]any{"tenant_id": "ten_1", "user_id": "usr_1", "n": 7},
	}, nil
}

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Type == "REQUEST" {
		record("AUTH", ev, raw)
		return authorize(ev)
	}
	record(ev.RequestContext.EventType, ev, raw)
	switch ev.RequestContext.RouteKey {
	case "$connect":
		if s, err := strconv.Atoi(ev.Query["connect_status"]); err == nil {
			return map[string]any{"statusCode": s, "body": "refused"}, nil
		}
		headers := map[string]string{"X-Connection-Id": ev.RequestContext.ConnectionID}
		if p := ev.Headers["Sec-WebSocket-Protocol"]; p != "" {
			headers["Sec-WebSocket-Protocol"] = strings.TrimSpace(strings.Split(p, ",")[0])
		}
		return map[string]any{"statusCode": 200, "headers": headers}, nil
	case "fail":
		return nil, errors.New("asked to fail")
	}
	if strings.Contains(ev.Body, `"push"`) {
		// Answer through the management API at CAAS_WS_ENDPOINT, as the real functions do.
		c, err := apigw.New(os.Getenv("CAAS_WS_ENDPOINT"), apigw.Options{})
		if err != nil {
			return nil, err
		}
		if err := c.PostToConnection(ctx, ev.RequestContext.ConnectionID, []byte("pushed:"+ev.Body)); err != nil {
			return nil, err
		}
	}
	return map[string]any{"statusCode": 200, "body": "not sent to the client"}, nil
}

func main() { lambda.Start(handle) }
