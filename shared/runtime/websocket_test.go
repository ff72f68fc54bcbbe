package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketConnectAdmitted(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	_, id := rt.dial(t, "?token=good&x=1&x=2", &websocket.DialOptions{HTTPHeader: map[string][]string{"User-Agent": {"ws-test"}}})

	auth := rt.waitEvents(t, id, "AUTH", 1)[0]
	if auth["type"] != "REQUEST" || auth["methodArn"] != "arn:aws:execute-api:us-east-1:000000000000:ws/live/$connect" {
		t.Errorf("authorizer event type %v methodArn %v", auth["type"], auth["methodArn"])
	}
	for _, k := range []string{"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters", "stageVariables"} {
		if _, ok := auth[k].(map[string]any); !ok {
			t.Errorf("authorizer event %s = %v", k, auth[k])
		}
	}
	if q := auth["queryStringParameters"].(map[string]any); q["token"] != "good" || q["x"] != "2" {
		t.Errorf("queryStringParameters %v", q)
	}
	if mq, _ := auth["multiValueQueryStringParameters"].(map[string]any)["x"].([]any); len(mq) != 2 {
		t.Errorf("multiValueQueryStringParameters.x %v", mq)
	}
	checkContext(t, rc(auth), id, "$connect", "CONNECT")

	conn := rt.waitEvents(t, id, "CONNECT", 1)[0]
	ctx := rc(conn)
	checkContext(t, ctx, id, "$connect", "CONNECT")
	authz, _ := ctx["authorizer"].(map[string]any)
	if authz["principalId"] != "usr_1" || authz["tenant_id"] != "ten_1" || authz["n"] != float64(7) {
		t.Errorf("requestContext.authorizer %v", authz)
	}
	if id := ctx["identity"].(map[string]any); id["sourceIp"] != "127.0.0.1" || id["userAgent"] != "ws-test" {
		t.Errorf("identity %v", id)
	}
}

// checkContext checks the requestContext fields every WebSocket event carries.
func checkContext(t *testing.T, ctx map[string]any, connID, routeKey, eventType string) {
	t.Helper()
	want := map[string]any{
		"routeKey": routeKey, "eventType": eventType, "messageDirection": "IN", "stage": "live",
		"connectionId": connID, "apiId": "ws",
	}
	for k, v := range want {
		if ctx[k] != v {
			t.Errorf("requestContext.%s = %v, want %v", k, ctx[k], v)
		}
	}
	for _, k := range []string{"requestId", "extendedRequestId", "domainName", "requestTime"} {
		if s, _ := ctx[k].(string); s == "" {
			t.Errorf("requestContext.%s missing", k)
		}
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ctx["requestTime"].(string)); err != nil {
		t.Errorf("requestTime: %v", err)
	}
	minute := float64(time.Now().Add(-time.Minute).UnixMilli())
	for _, k := range []string{"connectedAt", "requestTimeEpoch"} {
		if n, _ := ctx[k].(float64); n < minute {
			t.Errorf("requestContext.%s = %v", k, ctx[k])
		}
	}
}

func TestWebSocketConnectRefused(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	tests := []struct {
		query  string
		status int
		body   string
	}{
		{"?token=bad", 403, `{"message":"Forbidden"}`},
		{"?token=deny", 403, `{"message":"Forbidden"}`},
		{"?token=elsewhere", 403, `{"message":"Forbidden"}`},
		{"", 403, `{"message":"Forbidden"}`},
		{"?token=boom", 500, `{"message":"Internal Server Error"}`},
		{"?token=good&connect_status=401", 401, "refused"},
		{"?token=good&connect_status=503", 503, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			status, body := rt.refused(t, tt.query, nil)
			if status != tt.status || strings.TrimSpace(body) != tt.body {
				t.Errorf("status %d body %q, want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
	t.Run("wildcard resource admits", func(t *testing.T) {
		rt.dial(t, "?token=wild", nil)
	})
}

func TestWebSocketTokenAsSubprotocol(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, _ := rt.dial(t, "", &websocket.DialOptions{Subprotocols: []string{"caas", "good"}})
	if c.Subprotocol() != "caas" {
		t.Errorf("subprotocol %q, want the caas the $connect function answered", c.Subprotocol())
	}
	status, _ := rt.refused(t, "", &websocket.DialOptions{Subprotocols: []string{"caas", "bad"}})
	if status != 403 {
		t.Errorf("bad token as subprotocol: status %d, want 403", status)
	}
}

func TestWebSocketIdentitySource(t *testing.T) {
	rt := startWS(t, "websocket-identity.yaml", nil)
	status, body := rt.refused(t, "", &websocket.DialOptions{Subprotocols: []string{"caas", "good"}})
	if status != 401 || strings.TrimSpace(body) != `{"message":"Unauthorized"}` {
		t.Errorf("no token query parameter: %d %s, want 401 Unauthorized", status, body)
	}
	rt.dial(t, "?token=good", nil)
}

func TestWebSocketRoutes(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", nil)
	ctx := context.Background()
	send := func(typ websocket.MessageType, body string) {
		t.Helper()
		if err := c.Write(ctx, typ, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	send(websocket.MessageText, `{"action":"send","n":1}`)
	send(websocket.MessageText, `{"action":"nowhere"}`)
	send(websocket.MessageText, `not json`)
	send(websocket.MessageBinary, "\x00\x01\xff")

	evs := rt.waitEvents(t, id, "MESSAGE", 4)
	byBody := map[string]map[string]any{}
	for _, ev := range evs {
		byBody[ev["body"].(string)] = ev
		ctx := rc(ev)
		checkContext(t, ctx, id, ctx["routeKey"].(string), "MESSAGE")
		if s, _ := ctx["messageId"].(string); s == "" {
			t.Errorf("no messageId in %v", ctx)
		}
		if a, _ := ctx["authorizer"].(map[string]any); a["tenant_id"] != "ten_1" {
			t.Errorf("authorizer context not on a MESSAGE event: %v", ctx["authorizer"])
		}
	}
	binary := base64.StdEncoding.EncodeToString([]byte("\x00\x01\xff"))
	want := map[string]string{`{"action":"send","n":1}`: "send", `{"action":"nowhere"}`: "$default", "not json": "$default", binary: "$default"}
	for body, route := range want {
		ev := byBody[body]
		if ev == nil {
			t.Errorf("no event with body %q", body)
			continue
		}
		if rc(ev)["routeKey"] != route {
			t.Errorf("body %q went to %v, want %s", body, rc(ev)["routeKey"], route)
		}
		if ev["isBase64Encoded"] != (body == binary) {
			t.Errorf("body %q isBase64Encoded %v", body, ev["isBase64Encoded"])
		}
	}

	// The integrations' answers are not sent to the client: the first message it gets is the
	// one a function pushes through the management API at the rewritten CAAS_WS_ENDPOINT.
	send(websocket.MessageText, `{"action":"send","push":true}`)
	if got := readText(t, c); got != `pushed:{"action":"send","push":true}` {
		t.Errorf("client got %q", got)
	}
}

func TestWebSocketFailedIntegration(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", nil)
	if err := c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"fail"}`)); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(readText(t, c)), &got); err != nil {
		t.Fatal(err)
	}
	if got["message"] != "Internal server error" || got["connectionId"] != id || got["requestId"] == "" {
		t.Errorf("error document %v", got)
	}
}

func TestWebSocketDisconnectOnClientClose(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", nil)
	if err := c.Close(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	ev := rt.waitEvents(t, id, "DISCONNECT", 1)[0]
	ctx := rc(ev)
	checkContext(t, ctx, id, "$disconnect", "DISCONNECT")
	if ctx["disconnectStatusCode"] != float64(4000) || ctx["disconnectReason"] != "bye" {
		t.Errorf("disconnect %v %q", ctx["disconnectStatusCode"], ctx["disconnectReason"])
	}
	rt.stop() // a shutdown must not deliver a second $disconnect for a closed connection
	if n := len(rt.recorded(t, id, "DISCONNECT")); n != 1 {
		t.Errorf("%d DISCONNECT events, want 1", n)
	}
}

func TestWebSocketShutdownDisconnects(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", nil)
	closed := make(chan error, 1)
	go func() {
		ce, err := closeOf(c)
		if err == nil && ce.Code != websocket.StatusGoingAway {
			err = fmt.Errorf("client saw close %v, want 1001", ce.Code)
		}
		closed <- err
	}()
	rt.stop()
	evs := rt.recorded(t, id, "DISCONNECT")
	if len(evs) != 1 {
		t.Fatalf("%d DISCONNECT events after shutdown, want 1", len(evs))
	}
	if code := rc(evs[0])["disconnectStatusCode"]; code != float64(1001) {
		t.Errorf("disconnectStatusCode %v, want 1001", code)
	}
	if err := <-closed; err != nil {
		t.Error(err)
	}
}
