package readiness_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/aws/aws-lambda-go/events"
	"github.com/twmb/franz-go/pkg/kfake"

	"caas.dev/shared/edge"
	"caas.dev/shared/readiness"
	"caas.dev/shared/redis"
)

func call(t *testing.T, h edge.HandlerFunc) (events.APIGatewayV2HTTPResponse, map[string]any) {
	t.Helper()
	resp, err := edge.HTTP(slog.New(slog.DiscardHandler), h)(t.Context(), events.APIGatewayV2HTTPRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return resp, body
}

func TestHealth(t *testing.T) {
	resp, body := call(t, readiness.HealthHandler())
	if resp.StatusCode != 200 || body["status"] != "ok" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestReadyWithRealBackends(t *testing.T) {
	m := miniredis.RunT(t)
	rc, err := redis.Open("redis://" + m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()[0]

	checks := []readiness.Check{
		{Name: "redis", Probe: rc.Ping},
		{Name: "kafka", Probe: readiness.KafkaProbe(closedAddr(t) + "," + brokers)},
	}
	resp, body := call(t, readiness.ReadyHandler(checks...))
	if resp.StatusCode != 200 || body["status"] != "ready" {
		t.Fatalf("all up: %d %v", resp.StatusCode, body)
	}

	m.Close()
	checks[1].Probe = readiness.KafkaProbe(closedAddr(t))
	start := time.Now()
	resp, body = call(t, readiness.ReadyHandler(checks...))
	if resp.StatusCode != 503 || body["code"] != "backend_unavailable" || resp.Headers["Content-Type"] != edge.ProblemContentType {
		t.Fatalf("backends down: %d %v", resp.StatusCode, body)
	}
	states, _ := body["checks"].(map[string]any)
	if states["redis"] != "down" || states["kafka"] != "down" {
		t.Fatalf("checks %v", states)
	}
	if time.Since(start) > 3*readiness.CheckTimeout {
		t.Fatalf("checks took %v", time.Since(start))
	}
}

func TestReadyCheckTimeout(t *testing.T) {
	hang := readiness.Check{Name: "slow", Probe: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	start := time.Now()
	res := readiness.Run(t.Context(), []readiness.Check{hang, {Name: "fine", Probe: func(context.Context) error { return nil }}})
	if !errors.Is(res["slow"], context.DeadlineExceeded) || res["fine"] != nil {
		t.Fatalf("results %v", res)
	}
	if d := time.Since(start); d < readiness.CheckTimeout || d > readiness.CheckTimeout+time.Second {
		t.Fatalf("a hanging check took %v, want about %v", d, readiness.CheckTimeout)
	}
}
