package wsapi

import (
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/runtime/template"
)

// requestTimeLayout is API Gateway's requestTime: 09/Apr/2015:12:34:56 +0000.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// authorizerEvent is the REQUEST authorizer event of a WebSocket API's $connect.
type authorizerEvent struct {
	Type                            string                                        `json:"type"`
	MethodArn                       string                                        `json:"methodArn"`
	Headers                         map[string]string                             `json:"headers"`
	MultiValueHeaders               map[string][]string                           `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string                             `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string                           `json:"multiValueQueryStringParameters"`
	StageVariables                  map[string]string                             `json:"stageVariables"`
	RequestContext                  events.APIGatewayWebsocketProxyRequestContext `json:"requestContext"`
}

// handshake is what a $connect request says, kept for every later event of the connection.
type handshake struct {
	stage       string
	domain      string
	sourceIP    string
	userAgent   string
	headers     map[string]string
	multiHeader map[string][]string
	query       map[string]string
	multiQuery  map[string][]string
}

func newHandshake(r *http.Request, stage string) *handshake {
	h := &handshake{
		stage: stage, domain: r.Host, userAgent: r.UserAgent(),
		headers: map[string]string{}, multiHeader: map[string][]string{},
	}
	h.sourceIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	for k, vs := range r.Header {
		// Go canonicalizes header names; browsers and API Gateway spell these ones so.
		if rest, ok := strings.CutPrefix(k, "Sec-Websocket-"); ok {
			k = "Sec-WebSocket-" + rest
		}
		h.headers[k] = vs[len(vs)-1]
		h.multiHeader[k] = vs
	}
	if q := r.URL.Query(); len(q) > 0 {
		h.query, h.multiQuery = map[string]string{}, map[string][]string{}
		for k, vs := range q {
			h.query[k] = vs[len(vs)-1]
			h.multiQuery[k] = vs
		}
	}
	return h
}

// requestContext returns the requestContext of an event of the connection at now.
func (s *Server) requestContext(c *conn, routeKey, eventType, requestID string, now time.Time) events.APIGatewayWebsocketProxyRequestContext {
	return events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: newExtendedRequestID(),
		RequestTime:       now.UTC().Format(requestTimeLayout),
		MessageDirection:  "IN",
		Stage:             c.hs.stage,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		RequestTimeEpoch:  now.UnixMilli(),
		Identity:          events.APIGatewayRequestIdentity{SourceIP: c.hs.sourceIP, UserAgent: c.hs.userAgent},
		RequestID:         requestID,
		DomainName:        c.hs.domain,
		ConnectionID:      c.id,
		APIID:             s.api.ID,
		Authorizer:        c.authorizer,
	}
}

// methodArn is the ARN the authorizer's policy must allow for the $connect of stage.
func (s *Server) methodArn(stage string) string {
	return "arn:aws:execute-api:" + template.Region + ":" + template.AccountID + ":" + s.api.ID + "/" + stage + "/$connect"
}
