// Command crash is a test function whose process exits when the query asks it to.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if ev.QueryStringParameters["crash"] != "" {
			os.Exit(3)
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"alive":true}`}, nil
	})
}
