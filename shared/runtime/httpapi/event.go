package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// event is an HTTP API payload format 2.0 event; with Type set it is the event of a Lambda
// REQUEST authorizer.
type event struct {
	Version               string            `json:"version"`
	Type                  string            `json:"type,omitempty"`
	RouteArn              string            `json:"routeArn,omitempty"`
	IdentitySource        []string          `json:"identitySource,omitempty"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	RequestContext        requestContext    `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       *bool             `json:"isBase64Encoded,omitempty"`
}

type requestContext struct {
	AccountID    string         `json:"accountId"`
	APIID        string         `json:"apiId"`
	Authorizer   map[string]any `json:"authorizer,omitempty"`
	DomainName   string         `json:"domainName"`
	DomainPrefix string         `json:"domainPrefix"`
	HTTP         httpContext    `json:"http"`
	RequestID    string         `json:"requestId"`
	RouteKey     string         `json:"routeKey"`
	Stage        string         `json:"stage"`
	Time         string         `json:"time"`
	TimeEpoch    int64          `json:"timeEpoch"`
}

type httpContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// clfTime is the request time layout API Gateway uses (the common log format).
const clfTime = "02/Jan/2006:15:04:05 -0700"

// newRequestID returns an id shaped like API Gateway's (base64, 16 characters).
func newRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newEvent builds the 2.0 event of r for the route; body is nil when the request has none.
func newEvent(r *http.Request, rt *route, params map[string]string, body []byte, apiID, requestID string, now time.Time) *event {
	ev := &event{
		Version:        "2.0",
		RouteKey:       rt.key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		PathParameters: params,
	}
	for name, vals := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range vals {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lower] = strings.Join(vals, ",")
	}
	ip := sourceIP(r)
	ev.Headers["host"] = r.Host
	if len(body) > 0 {
		ev.Headers["content-length"] = fmt.Sprint(len(body))
	}
	if xff := ev.Headers["x-forwarded-for"]; xff != "" {
		ev.Headers["x-forwarded-for"] = xff + ", " + ip
	} else {
		ev.Headers["x-forwarded-for"] = ip
	}
	ev.Headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		ev.Headers["x-forwarded-port"] = port
	}

	if q, err := url.ParseQuery(r.URL.RawQuery); err == nil && len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, v := range q {
			ev.QueryStringParameters[k] = strings.Join(v, ",")
		}
	}

	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	ev.RequestContext = requestContext{
		AccountID: "000000000000", APIID: apiID, DomainName: host, DomainPrefix: prefix,
		HTTP: httpContext{
			Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent(),
		},
		RequestID: requestID, RouteKey: rt.key, Stage: "$default",
		Time: now.UTC().Format(clfTime), TimeEpoch: now.UnixMilli(),
	}

	encoded := false
	if len(body) > 0 {
		s := string(body)
		// A text body that is not valid UTF-8 cannot travel in a JSON string without its bytes
		// being replaced, so it goes base64-encoded like a binary one and reaches the
		// function unchanged.
		if !isText(r.Header.Get("Content-Type")) || !utf8.Valid(body) {
			s = base64.StdEncoding.EncodeToString(body)
			encoded = true
		}
		ev.Body = &s
	}
	ev.IsBase64Encoded = &encoded
	return ev
}

// authorizerEvent derives the REQUEST authorizer event from the route's event.
func authorizerEvent(ev *event, identity []string, apiID string) *event {
	a := *ev
	a.Type = "REQUEST"
	a.IdentitySource = identity
	a.Body = nil
	a.IsBase64Encoded = nil
	path := strings.TrimPrefix(ev.RequestContext.HTTP.Path, "/")
	a.RouteArn = fmt.Sprintf("arn:aws:execute-api:us-east-1:000000000000:%s/$default/%s/%s", apiID, ev.RequestContext.HTTP.Method, path)
	return &a
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isText reports whether API Gateway passes a body of this content type as text rather than
// base64.
func isText(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", mt == "application/xml", mt == "application/javascript",
		mt == "application/x-www-form-urlencoded", mt == "application/graphql",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// lambdaResponse is the structured response of a function (payload format 2.0).
type lambdaResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

var errBadResponse = errors.New("the function's response is not a valid HTTP API response")

// mapResponse turns a function's output into status, headers and body as API Gateway does. An
// output without statusCode is the body of a 200 application/json response.
func mapResponse(payload []byte) (int, http.Header, []byte, error) {
	h := http.Header{}
	if !json.Valid(payload) {
		return 0, nil, nil, errBadResponse
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(payload, &probe); err != nil || probe["statusCode"] == nil {
		h.Set("Content-Type", "application/json")
		return http.StatusOK, h, payload, nil
	}
	var lr lambdaResponse
	if err := json.Unmarshal(payload, &lr); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: %v", errBadResponse, err)
	}
	if lr.StatusCode < 100 || lr.StatusCode > 599 {
		return 0, nil, nil, fmt.Errorf("%w: statusCode %d", errBadResponse, lr.StatusCode)
	}
	for _, k := range sortedKeys(lr.MultiValueHeaders) {
		for _, v := range lr.MultiValueHeaders[k] {
			h.Add(k, v)
		}
	}
	for k, v := range lr.Headers {
		h.Set(k, v)
	}
	for _, c := range lr.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(lr.Body)
	if lr.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(lr.Body)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("%w: body is not base64", errBadResponse)
		}
		body = b
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	return lr.StatusCode, h, body, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
