// Command authorizer is a test Lambda REQUEST authorizer (simple responses): it allows the
// bearer token "good", fails on the token "boom" and fails with "Unauthorized" (a 401) on
// the token "unauthorized".
package main

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		switch ev.Headers["authorization"] {
		case "Bearer good":
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{
				IsAuthorized: true,
				Context:      map[string]any{"tenant_id": "ten_1", "user_id": "usr_1", "route_arn": ev.RouteArn},
			}, nil
		case "Bearer unauthorized":
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errors.New("Unauthorized")
		case "Bearer boom":
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, errors.New("authorizer broke")
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	})
}
