package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"

	"caas.dev/shared/realtime"
	"caas.dev/shared/redis"
)

// TestManagementAPI drives the runtime's management API with the official AWS SDK client
// (v1: the v2 service module is not available to this build), pointed at the stage URL exactly
// as a deployed function points it at API Gateway.
func TestManagementAPI(t *testing.T) {
	w := getWorld(t)
	u := mustRegister(t, api(), w.a, "mgmt")
	var ws *wsClient
	connID := newConnectionID(t, the, u, func() { ws = connectWS(t, the, "mgmt", u.token) })
	mgmt := managementClient(t, the)

	payload := []byte(`{"type":"custom","n":1}`)
	if _, err := mgmt.PostToConnection(&apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connID), Data: payload,
	}); err != nil {
		t.Fatalf("PostToConnection to a live connection: %v", err)
	}
	if f := ws.wait(t, "the posted payload", func(f frame) bool { return f.str("type") == "custom" }); f.obj != nil && string(f.raw) != string(payload) {
		t.Errorf("received %q, want the posted bytes %q as one message", f.raw, payload)
	}

	before := time.Now().Add(-time.Minute)
	got, err := mgmt.GetConnection(&apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(connID)})
	if err != nil {
		t.Fatalf("GetConnection of a live connection: %v", err)
	}
	if got.ConnectedAt == nil || got.ConnectedAt.Before(before) || got.ConnectedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("GetConnection: connectedAt %v is not around now", got.ConnectedAt)
	}
	if got.LastActiveAt == nil || (got.ConnectedAt != nil && got.LastActiveAt.Before(*got.ConnectedAt)) {
		t.Errorf("GetConnection: lastActiveAt %v, want a time at or after connectedAt %v", got.LastActiveAt, got.ConnectedAt)
	}
	if got.Identity == nil || aws.StringValue(got.Identity.SourceIp) != "127.0.0.1" {
		t.Errorf("GetConnection: identity %v, want sourceIp 127.0.0.1", got.Identity)
	}

	if _, err := mgmt.DeleteConnection(&apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connID)}); err != nil {
		t.Fatalf("DeleteConnection of a live connection: %v", err)
	}
	if _, closed := ws.waitClosed(pushDeadline); !closed {
		t.Errorf("the client was not disconnected within %s of DeleteConnection", pushDeadline)
	}

	for name, call := range map[string]func(string) error{
		"GetConnection": func(id string) error {
			_, err := mgmt.GetConnection(&apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			return err
		},
		"PostToConnection": func(id string) error {
			_, err := mgmt.PostToConnection(&apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: payload})
			return err
		},
		"DeleteConnection": func(id string) error {
			_, err := mgmt.DeleteConnection(&apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			return err
		},
	} {
		for _, id := range []string{connID, "Tm90QUNvbm49"} {
			if err := call(id); !isGone(err) {
				t.Errorf("%s of a closed or unknown connection %s: want GoneException, got %v", name, id, err)
			}
		}
	}
	waitUnregistered(t, the, u, connID)
}

// waitUnregistered waits for connID to leave u's connections in the registry, and reports an
// error when it stays.
func waitUnregistered(t testing.TB, p *platform, u *user, connID string) {
	t.Helper()
	deadline := time.Now().Add(pushDeadline)
	for slices.Contains(connectionIDs(t, p, u), connID) {
		if time.Now().After(deadline) {
			t.Errorf("connection %s of %s is still in the registry %s after it closed", connID, u.name, pushDeadline)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isGone reports whether err is the SDK's GoneException, as API Gateway answers for a
// connection that does not exist.
func isGone(err error) bool {
	var ae awserr.RequestFailure
	return errors.As(err, &ae) && ae.Code() == apigatewaymanagementapi.ErrCodeGoneException && ae.StatusCode() == http.StatusGone
}

// managementClient is the official client for p's management API, configured as a function is:
// the stage URL as endpoint, a region and credentials to sign with.
func managementClient(t testing.TB, p *platform) *apigatewaymanagementapi.ApiGatewayManagementApi {
	t.Helper()
	sess, err := session.NewSession(&aws.Config{
		Region:      aws.String("us-east-1"),
		Endpoint:    aws.String("http://" + p.wsAddr + wsPath),
		Credentials: credentials.NewStaticCredentials("AKIDLOCALTEST", "local-test-secret", ""),
		MaxRetries:  aws.Int(0),
		HTTPClient:  &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatalf("AWS session: %v", err)
	}
	return apigatewaymanagementapi.New(sess)
}

// connectionIDs returns the ids of u's live connections as the platform's connection registry
// (WsConnect's entries in Redis) holds them. As on API Gateway, no frame tells a client its own
// connection id, so tests that name a connection to the management API look it up where the
// platform keeps it.
func connectionIDs(t testing.TB, p *platform, u *user) []string {
	t.Helper()
	url := redisURL(t, p)
	rc, err := redis.Open(url)
	if err != nil {
		t.Fatalf("open the registry's Redis: %v", err)
	}
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg := rc.NewConnections(redis.ConnectionsPrefix, realtime.ConnectionTTL, nil)
	ids, err := reg.Connections(ctx, u.tenant.id, []string{u.id})
	if err != nil {
		t.Fatalf("read %s's connections from the registry: %v", u.name, err)
	}
	return ids[u.id]
}

// newConnectionID runs connect and returns the one connection id u gained by it.
func newConnectionID(t testing.TB, p *platform, u *user, connect func()) string {
	t.Helper()
	before := connectionIDs(t, p, u)
	connect()
	deadline := time.Now().Add(pushDeadline)
	for {
		var added []string
		for _, id := range connectionIDs(t, p, u) {
			if !slices.Contains(before, id) {
				added = append(added, id)
			}
		}
		switch {
		case len(added) == 1:
			return added[0]
		case len(added) > 1:
			t.Fatalf("%s gained %d connections by one connect: %v", u.name, len(added), added)
		case time.Now().After(deadline):
			t.Fatalf("%s's new connection did not appear in the registry within %s (WsConnect stores it)", u.name, pushDeadline)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// redisURL is the Redis the platform p uses.
func redisURL(t testing.TB, p *platform) string {
	t.Helper()
	return backendsOf(t, p).RedisURL
}
