package realtime

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

// TokenQueryParam is the query parameter of $connect that may carry the access token.
const TokenQueryParam = "token"

// Authorizer is the WebSocket API's $connect REQUEST authorizer. It takes the access token
// from the token query parameter or, for browsers, from the second subprotocol offered in
// Sec-WebSocket-Protocol ("caas, <token>"), and verifies it exactly as the HTTP API's
// authorizer does (same keys, issuer, audience, and a check that the user still exists), by
// handing it to that authorizer. It answers with the IAM policy API Gateway requires of a
// WebSocket authorizer. It never logs the token.
type Authorizer struct {
	HTTP *identity.Authorizer
}

// Effects of a policy statement.
const (
	effectAllow = "Allow"
	effectDeny  = "Deny"
)

// Handle answers one $connect authorization. A missing or refused token gives a Deny policy; an
// error is returned only when a backend fails, which API Gateway turns into a 500 rather than
// wrongly refusing a valid caller.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	token := connectToken(req)
	if token == "" {
		return policy("anonymous", effectDeny, req.MethodArn, nil), nil
	}

	// The HTTP authorizer reads a Bearer header, logs nothing of the token, and caches the
	// user lookup; reusing it keeps both APIs' rules one.
	res, err := a.HTTP.Handle(ctx, events.APIGatewayV2CustomAuthorizerV2Request{
		Type:     "REQUEST",
		RouteArn: req.MethodArn,
		RouteKey: "$connect",
		Headers:  map[string]string{"authorization": "Bearer " + token},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: req.RequestContext.RequestID,
			RouteKey:  "$connect",
		},
	})
	if err != nil {
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	if !res.IsAuthorized {
		return policy("anonymous", effectDeny, req.MethodArn, nil), nil
	}
	principal, _ := res.Context[edge.ContextUserID].(string)
	return policy(principal, effectAllow, req.MethodArn, res.Context), nil
}

// connectToken returns the token of the query parameter, else of the subprotocols, else "".
func connectToken(req events.APIGatewayCustomAuthorizerRequestTypeRequest) string {
	if t := strings.TrimSpace(req.QueryStringParameters[TokenQueryParam]); t != "" {
		return t
	}
	protocols := strings.Split(header(req.Headers, "Sec-WebSocket-Protocol"), ",")
	if len(protocols) == 2 && strings.TrimSpace(protocols[0]) == Subprotocol {
		return strings.TrimSpace(protocols[1])
	}
	return ""
}

// policy returns an IAM policy with one statement on the route's ARN.
func policy(principal, effect, methodArn string, ctx map[string]any) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action:   []string{"execute-api:Invoke"},
				Effect:   effect,
				Resource: []string{methodArn},
			}},
		},
		Context: ctx,
	}
}
