package runtime

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	mgmt "github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"
	"github.com/coder/websocket"

	"caas.dev/shared/apigw"
)

// sdkClient is the official v1 SDK's management API client pointed at endpoint.
func sdkClient(t *testing.T, endpoint string) *mgmt.ApiGatewayManagementApi {
	t.Helper()
	sess, err := session.NewSession(&aws.Config{
		Region: aws.String("us-east-1"), Endpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentials("AKIDLOCAL", "secret", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgmt.New(sess)
}

func awsCode(err error) string {
	var ae awserr.Error
	if errors.As(err, &ae) {
		return ae.Code()
	}
	return ""
}

func TestManagementAPIWithOfficialSDK(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", &websocket.DialOptions{HTTPHeader: map[string][]string{"User-Agent": {"sdk-test"}}})
	// The SDK is pointed at the stage URL and at the bare host: both paths are served.
	for _, endpoint := range []string{rt.mgmtURL(), strings.TrimSuffix(rt.mgmtURL(), "/live")} {
		api := sdkClient(t, endpoint)
		if _, err := api.PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("hello " + endpoint)}); err != nil {
			t.Fatalf("PostToConnection via %s: %v", endpoint, err)
		}
		if got := readText(t, c); got != "hello "+endpoint {
			t.Errorf("client got %q", got)
		}
	}
	api := sdkClient(t, rt.mgmtURL())

	// Not valid UTF-8: a binary message.
	if _, err := api.PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte{0xff, 0x00}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if typ, data, err := c.Read(ctx); err != nil || typ != websocket.MessageBinary || !bytes.Equal(data, []byte{0xff, 0x00}) {
		t.Errorf("binary post arrived as %v %v %v", typ, data, err)
	}

	out, err := api.GetConnection(&mgmt.GetConnectionInput{ConnectionId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetConnection: %v", err)
	}
	if out.ConnectedAt == nil || time.Since(*out.ConnectedAt) > time.Minute || out.LastActiveAt == nil || out.LastActiveAt.Before(*out.ConnectedAt) {
		t.Errorf("times connectedAt %v lastActiveAt %v", out.ConnectedAt, out.LastActiveAt)
	}
	if out.Identity == nil || aws.StringValue(out.Identity.SourceIp) != "127.0.0.1" || aws.StringValue(out.Identity.UserAgent) != "sdk-test" {
		t.Errorf("identity %v", out.Identity)
	}

	big := bytes.Repeat([]byte("x"), 128<<10+1)
	if _, err := api.PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String(id), Data: big}); awsCode(err) != mgmt.ErrCodePayloadTooLargeException {
		t.Errorf("post of 128 KB + 1: %v, want PayloadTooLargeException", err)
	}

	if _, err := api.DeleteConnection(&mgmt.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
		t.Fatalf("DeleteConnection: %v", err)
	}
	if ce := readClose(t, c); ce.Code != websocket.StatusNormalClosure {
		t.Errorf("client saw close %v after DeleteConnection", ce.Code)
	}
	ev := rt.waitEvents(t, id, "DISCONNECT", 1)[0]
	if rc(ev)["disconnectStatusCode"] != float64(1000) {
		t.Errorf("disconnect after delete: %v", rc(ev))
	}

	for name, call := range map[string]func() error{
		"post": func() error {
			_, err := api.PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
			return err
		},
		"get": func() error {
			_, err := api.GetConnection(&mgmt.GetConnectionInput{ConnectionId: aws.String(id)})
			return err
		},
		"delete": func() error {
			_, err := api.DeleteConnection(&mgmt.DeleteConnectionInput{ConnectionId: aws.String(id)})
			return err
		},
		"unknown": func() error {
			_, err := api.PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String("bm9zdWNoY29ubg="), Data: []byte("x")})
			return err
		},
	} {
		if err := call(); awsCode(err) != mgmt.ErrCodeGoneException {
			t.Errorf("%s on a closed connection: %v, want GoneException", name, err)
		}
	}
}

func TestManagementAPIWithApigw(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	c, id := rt.dial(t, "?token=good", &websocket.DialOptions{HTTPHeader: map[string][]string{"User-Agent": {"apigw-test"}}})
	client, err := apigw.New(rt.mgmtURL(), apigw.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.PostToConnection(ctx, id, []byte(`{"type":"message"}`)); err != nil {
		t.Fatal(err)
	}
	if got := readText(t, c); got != `{"type":"message"}` {
		t.Errorf("client got %q", got)
	}
	conn, err := client.GetConnection(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if conn.SourceIP != "127.0.0.1" || conn.UserAgent != "apigw-test" || time.Since(conn.ConnectedAt) > time.Minute || conn.LastActiveAt.IsZero() {
		t.Errorf("connection %+v", conn)
	}
	if err := client.PostToConnection(ctx, id, make([]byte, apigw.MaxPayloadBytes+1)); !errors.Is(err, apigw.ErrPayloadTooLarge) {
		t.Errorf("oversized post: %v", err)
	}
	if err := client.DeleteConnection(ctx, id); err != nil {
		t.Fatal(err)
	}
	readClose(t, c)
	rt.waitEvents(t, id, "DISCONNECT", 1)
	if err := client.PostToConnection(ctx, id, []byte("x")); !errors.Is(err, apigw.ErrGone) {
		t.Errorf("post to a deleted connection: %v, want ErrGone", err)
	}
	if _, err := client.GetConnection(ctx, id); !errors.Is(err, apigw.ErrGone) {
		t.Errorf("get of a deleted connection: %v, want ErrGone", err)
	}
}

func TestWebSocketVanishedClient(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	var raw net.Conn
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		raw = c
		return c, err
	}}
	_, id := rt.dial(t, "?token=good", &websocket.DialOptions{HTTPClient: &http.Client{Transport: transport}})
	raw.Close() // no close frame: the client just disappears

	ev := rt.waitEvents(t, id, "DISCONNECT", 1)[0]
	if code := rc(ev)["disconnectStatusCode"]; code != float64(1006) {
		t.Errorf("disconnectStatusCode %v, want 1006", code)
	}
	_, err := sdkClient(t, rt.mgmtURL()).PostToConnection(&mgmt.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
	if awsCode(err) != mgmt.ErrCodeGoneException {
		t.Errorf("post after the client vanished: %v, want GoneException", err)
	}
}
