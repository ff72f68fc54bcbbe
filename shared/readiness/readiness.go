// Package readiness answers GET /health and GET /ready. Health touches nothing, so it shows
// only that the function runs; ready checks every backend, each within its own short timeout,
// and names those that are down.
package readiness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/edge"
)

// CheckTimeout bounds each backend check.
const CheckTimeout = 2 * time.Second

// Check is one backend probe; Probe returns nil when the backend answers.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// HealthHandler serves GET /health: 200 {"status":"ok"} without touching any backend.
func HealthHandler() edge.HandlerFunc {
	return func(context.Context, *edge.Request) (*edge.Response, error) {
		return edge.JSON(http.StatusOK, map[string]string{"status": "ok"})
	}
}

// report is the body of a /ready answer. When a backend is down it is also a problem document
// (type, title, status, detail, code), with checks naming each backend's state.
type report struct {
	Type      string            `json:"type,omitempty"`
	Title     string            `json:"title,omitempty"`
	Status    any               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Checks    map[string]string `json:"checks"`
}

// ReadyHandler serves GET /ready: it runs every check concurrently and answers 200
// {"status":"ready","checks":{name:"ok"}} or 503 problem+json (code backend_unavailable)
// whose checks map names each backend "ok" or "down".
func ReadyHandler(checks ...Check) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		results := Run(ctx, checks)
		var down []string
		states := make(map[string]string, len(results))
		for name, err := range results {
			states[name] = "ok"
			if err != nil {
				states[name] = "down"
				down = append(down, name)
				edge.Logger(ctx).WarnContext(ctx, "backend down", "backend", name, "error", err.Error())
			}
		}
		if len(down) == 0 {
			return edge.JSON(http.StatusOK, report{Status: "ready", Checks: states})
		}
		slices.Sort(down)
		body, err := json.Marshal(report{
			Type: "https://caas.dev/problems/backend_unavailable", Title: http.StatusText(http.StatusServiceUnavailable),
			Status: http.StatusServiceUnavailable, Code: "backend_unavailable", RequestID: req.RequestID(),
			Detail: "unavailable: " + strings.Join(down, ", "), Checks: states,
		})
		if err != nil {
			return nil, fmt.Errorf("encode readiness: %w", err)
		}
		return &edge.Response{StatusCode: http.StatusServiceUnavailable, Body: string(body),
			Headers: map[string]string{"Content-Type": edge.ProblemContentType, "Retry-After": "5"}}, nil
	}
}

// Run runs the checks concurrently, each bounded by CheckTimeout, and returns each one's error
// (nil when it passed) by name.
func Run(ctx context.Context, checks []Check) map[string]error {
	out := make(map[string]error, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			err := c.Probe(cctx)
			mu.Lock()
			out[c.Name] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// KafkaProbe returns a probe that succeeds when any of the comma-separated brokers accepts a
// connection and answers a metadata request.
func KafkaProbe(brokers string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var errs []error
		for _, b := range strings.Split(brokers, ",") {
			if b = strings.TrimSpace(b); b == "" {
				continue
			}
			if err := dialKafka(ctx, b); err != nil {
				errs = append(errs, err)
				continue
			}
			return nil
		}
		if len(errs) == 0 {
			return errors.New("no kafka brokers configured")
		}
		return errors.Join(errs...)
	}
}

func dialKafka(ctx context.Context, addr string) error {
	d := &kafkago.Dialer{Timeout: CheckTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dial kafka %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Brokers(); err != nil {
		return fmt.Errorf("kafka %s metadata: %w", addr, err)
	}
	return nil
}
