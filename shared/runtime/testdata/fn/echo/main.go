// Command echo is a test function: it answers with the event it received, and shapes its
// response by the mode query parameter.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev events.APIGatewayV2HTTPRequest
	_ = json.Unmarshal(raw, &ev)
	if d, err := time.ParseDuration(ev.QueryStringParameters["sleep"]); err == nil {
		time.Sleep(d)
	}
	switch ev.QueryStringParameters["mode"] {
	case "bare":
		return map[string]bool{"bare": true}, nil
	case "cookies":
		return map[string]any{
			"statusCode": 201,
			"headers":    map[string]string{"X-Custom": "yes", "Content-Type": "text/plain"},
			"cookies":    []string{"a=1; Path=/", "b=2; HttpOnly"},
			"body":       "cookies",
		}, nil
	case "base64":
		return map[string]any{
			"statusCode":      200,
			"headers":         map[string]string{"Content-Type": "application/octet-stream"},
			"body":            base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}),
			"isBase64Encoded": true,
		}, nil
	case "error":
		return nil, errTest{}
	}
	return map[string]any{
		"statusCode": 200,
		"headers":    map[string]string{"Content-Type": "application/json"},
		"body":       string(raw),
	}, nil
}

type errTest struct{}

func (errTest) Error() string { return "asked to fail" }

func main() { lambda.Start(handle) }
