package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/template"
)

// fakeClock stands still until advance moves it; After's channels fire as it passes them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
		} else {
			w.ch <- c.now
		}
	}
	c.waiters = kept
}

// waitWaiters waits until n goroutines wait on the clock: the scheduler has handled every time
// passed so far.
func (c *fakeClock) waitWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.waiters)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines wait on the clock, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// fakeInvoker records invocations; while hold is set, each waits for a value on release.
type fakeInvoker struct {
	calls   chan fakeCall
	hold    bool
	release chan struct{}
	err     error
}

type fakeCall struct {
	function string
	payload  []byte
}

func newFakeInvoker() *fakeInvoker {
	return &fakeInvoker{calls: make(chan fakeCall, 16), release: make(chan struct{})}
}

func (f *fakeInvoker) Invoke(ctx context.Context, name string, payload []byte) (*lambdaapi.Result, error) {
	f.calls <- fakeCall{name, payload}
	if f.hold {
		select {
		case <-f.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return &lambdaapi.Result{Payload: []byte("null")}, nil
}

func (f *fakeInvoker) next(t *testing.T) fakeCall {
	t.Helper()
	select {
	case c := <-f.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no invocation")
		return fakeCall{}
	}
}

func (f *fakeInvoker) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-f.calls:
		t.Fatalf("unexpected invocation of %s with %s", c.function, c.payload)
	default:
	}
}

// syncBuffer is a log destination safe for the scheduler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitIdle waits until no invocation of s runs, so the next time is not skipped.
func waitIdle(t *testing.T, s *scheduler) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, r := range s.rules {
		for r.running.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("%s still running", r.name)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

var t0 = time.Date(2026, 3, 2, 9, 0, 30, 0, time.UTC)

// testScheduler builds a scheduler over a one-function template whose Events are events.
func testScheduler(t *testing.T, events string, env map[string]string) (*scheduler, *fakeClock, *syncBuffer) {
	t.Helper()
	src := "Resources:\n  Sweep:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" + events
	tmpl, err := template.Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s, err := newScheduler(tmpl, func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock(t0)
	s.clock = clk
	return s, clk, logs
}

const everyMinute = `        Tick:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
`

// wantScheduledEvent checks payload is EventBridge's scheduled event for rule at time at.
func wantScheduledEvent(t *testing.T, payload []byte, rule string, at time.Time) {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatalf("event is not JSON: %v: %s", err, payload)
	}
	want := map[string]any{
		"version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
		"account": "000000000000", "region": "us-east-1", "time": at.UTC().Format(time.RFC3339),
	}
	for k, v := range want {
		if ev[k] != v {
			t.Errorf("%s = %v, want %v", k, ev[k], v)
		}
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if id, _ := ev["id"].(string); !uuid.MatchString(id) {
		t.Errorf("id %v is not a version 4 UUID", ev["id"])
	}
	res, _ := ev["resources"].([]any)
	if arn := "arn:aws:events:us-east-1:000000000000:rule/" + rule; len(res) != 1 || res[0] != arn {
		t.Errorf("resources %v, want [%s]", ev["resources"], arn)
	}
	if d, ok := ev["detail"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("detail %v, want {}", ev["detail"])
	}
	if len(ev) != 9 {
		t.Errorf("event has %d fields, want 9: %s", len(ev), payload)
	}
	// A function that takes aws-lambda-go's type reads it whole.
	var typed events.CloudWatchEvent
	if err := json.Unmarshal(payload, &typed); err != nil {
		t.Fatalf("events.CloudWatchEvent: %v", err)
	}
	if !typed.Time.Equal(at.Truncate(time.Second)) || typed.DetailType != "Scheduled Event" || typed.AccountID != "000000000000" {
		t.Errorf("as events.CloudWatchEvent: %+v", typed)
	}
}

func TestSchedulerRateFiresEachPeriod(t *testing.T) {
	s, clk, _ := testScheduler(t, everyMinute, nil)
	inv := newFakeInvoker()
	s.start(t.Context(), inv)
	defer s.stop(t.Context())
	clk.waitWaiters(t, 1)

	clk.advance(59 * time.Second)
	clk.waitWaiters(t, 1)
	inv.none(t)

	clk.advance(time.Second)
	for i := 1; i <= 3; i++ {
		if i > 1 {
			clk.advance(time.Minute)
		}
		c := inv.next(t)
		if c.function != "Sweep" {
			t.Errorf("invoked %s", c.function)
		}
		wantScheduledEvent(t, c.payload, "caas-Sweep-Tick", t0.Add(time.Duration(i)*time.Minute))
		clk.waitWaiters(t, 1)
		waitIdle(t, s)
	}
}

func TestSchedulerSkipsWhileRunning(t *testing.T) {
	s, clk, logs := testScheduler(t, everyMinute, nil)
	inv := newFakeInvoker()
	inv.hold = true
	s.start(t.Context(), inv)
	defer s.stop(t.Context())
	clk.waitWaiters(t, 1)

	clk.advance(time.Minute)
	inv.next(t)
	clk.waitWaiters(t, 1)
	clk.advance(time.Minute) // the first invocation still runs
	clk.waitWaiters(t, 1)
	inv.none(t)
	if !strings.Contains(logs.String(), "skipped") {
		t.Errorf("the skipped time was not logged:\n%s", logs)
	}

	inv.release <- struct{}{}
	waitIdle(t, s)
	clk.advance(time.Minute)
	c := inv.next(t)
	wantScheduledEvent(t, c.payload, "caas-Sweep-Tick", t0.Add(3*time.Minute))
	inv.release <- struct{}{}
}

func TestSchedulerRetriesAtNextTime(t *testing.T) {
	s, clk, logs := testScheduler(t, everyMinute, nil)
	inv := newFakeInvoker()
	inv.err = &lambdaapi.FunctionError{Type: "errorString", Message: "store unavailable"}
	done := make(chan error, 4)
	s.onDone = func(_ string, _ *lambdaapi.Result, err error) { done <- err }
	s.start(t.Context(), inv)
	defer s.stop(t.Context())
	clk.waitWaiters(t, 1)

	for i := 1; i <= 2; i++ {
		clk.advance(time.Minute)
		c := inv.next(t)
		wantScheduledEvent(t, c.payload, "caas-Sweep-Tick", t0.Add(time.Duration(i)*time.Minute))
		if err := <-done; err == nil {
			t.Fatal("the failure did not reach the outcome hook")
		}
		clk.waitWaiters(t, 1)
		waitIdle(t, s)
	}
	out := logs.String()
	if strings.Count(out, "scheduled invocation failed") != 2 || !strings.Contains(out, "store unavailable") {
		t.Errorf("failures not logged:\n%s", out)
	}
	if strings.Contains(out, "Scheduled Event") {
		t.Errorf("the event body reached the log:\n%s", out)
	}
}

func TestSchedulerStopWaitsForInvocation(t *testing.T) {
	s, clk, _ := testScheduler(t, everyMinute, nil)
	inv := newFakeInvoker()
	inv.hold = true
	s.start(t.Context(), inv)
	clk.waitWaiters(t, 1)
	clk.advance(time.Minute)
	inv.next(t)

	stopped := make(chan struct{})
	go func() { s.stop(context.Background()); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("stop returned while an invocation ran")
	case <-time.After(50 * time.Millisecond):
	}
	inv.release <- struct{}{}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return once the invocation ended")
	}
	s.stop(context.Background()) // again: returns at once
}

func TestSchedulerStopGivesUpAtDeadline(t *testing.T) {
	s, clk, logs := testScheduler(t, everyMinute, nil)
	inv := newFakeInvoker()
	inv.hold = true
	s.start(t.Context(), inv)
	clk.waitWaiters(t, 1)
	clk.advance(time.Minute)
	inv.next(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s.stop(ctx)
	if !strings.Contains(logs.String(), "still running at shutdown") {
		t.Errorf("the abandoned invocation was not logged:\n%s", logs)
	}
	s.wg.Wait() // stop cancelled the invocation's context: the fake returns
}

func TestSchedulesOff(t *testing.T) {
	s, clk, logs := testScheduler(t, everyMinute, map[string]string{SchedulesEnv: "off"})
	inv := newFakeInvoker()
	s.start(t.Context(), inv)
	defer s.stop(t.Context())
	clk.waitWaiters(t, 0)
	clk.advance(time.Hour)
	inv.none(t)
	if !strings.Contains(logs.String(), SchedulesEnv+"=off") {
		t.Errorf("turning schedules off was not logged:\n%s", logs)
	}
}

func TestSchedulerReadsEvents(t *testing.T) {
	s, _, _ := testScheduler(t, everyMinute+`        Off:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes), Enabled: false}
        Paused:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(5 minutes), State: DISABLED}
        Job:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            ScheduleExpressionTimezone: Europe/Paris
            Input: '{"job":"nightly"}'
`, nil)
	got := map[string]*rule{}
	for _, r := range s.rules {
		got[r.name] = r
	}
	if len(got) != 2 || got["caas-Sweep-Tick"] == nil || got["caas-Sweep-Job"] == nil {
		t.Fatalf("rules %v, want caas-Sweep-Tick and caas-Sweep-Job", got)
	}
	job := got["caas-Sweep-Job"]
	if string(job.input) != `{"job":"nightly"}` {
		t.Errorf("input %s", job.input)
	}
	// 03:00 in Paris is 02:00 UTC in winter.
	if next := job.expr.Next(t0); !next.Equal(time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("next %v, want 2026-03-03T02:00:00Z", next.UTC())
	}
	if got["caas-Sweep-Tick"].input != nil {
		t.Error("a schedule without Input has an input")
	}
}

func TestSchedulerRefusesBadExpressions(t *testing.T) {
	tests := []struct{ props, want string }{
		{"{Schedule: rate(1 minutes)}", `function Sweep: event Bad: invalid schedule expression "rate(1 minutes)"`},
		{"{Schedule: rate(5 minute)}", `"rate(5 minute)"`},
		{"{Schedule: cron(0 10 * * * *)}", `"cron(0 10 * * * *)"`},
	}
	for _, tt := range tests {
		t.Run(tt.props, func(t *testing.T) {
			src := "Resources:\n  Sweep:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" +
				"        Bad:\n          Type: Schedule\n          Properties: " + tt.props + "\n"
			tmpl, err := template.Parse([]byte(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newScheduler(tmpl, func(string) string { return "" }, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %s", err, tt.want)
			}
		})
	}

	src := "Resources:\n  Sweep:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n" +
		"        Bad:\n          Type: ScheduleV2\n          Properties: {ScheduleExpression: rate(1 hour), ScheduleExpressionTimezone: Mars/Olympus}\n"
	tmpl, err := template.Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newScheduler(tmpl, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "Mars/Olympus") {
		t.Errorf("error %v, want it to name the time zone", err)
	}
}

// TestScheduleFiresInRun runs the real runtime over testdata/schedule.yaml with the scheduler's
// clock in the test's hands, and checks what the echo function received.
func TestScheduleFiresInRun(t *testing.T) {
	clk := newFakeClock(t0)
	type outcome struct {
		rule string
		res  *lambdaapi.Result
		err  error
	}
	outcomes := make(chan outcome, 16)
	scheduleClock, onScheduleFired = clk, func(rule string, res *lambdaapi.Result, err error) {
		outcomes <- outcome{rule, res, err}
	}
	defer func() { scheduleClock, onScheduleFired = systemClock{}, nil }()

	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := Config{
		Template: filepath.Join("testdata", "schedule.yaml"), StateDir: t.TempDir(),
		NoBuild: true, BinDir: binDir, Addr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(logOut, nil)), FunctionLog: logOut, Stdout: logOut,
		Getenv:  func(k string) string { return map[string]string{"CAAS_ADMIN_KEY": "test-admin-key"}[k] },
		OnReady: func(url string) { ready <- url },
	}
	go func() { done <- Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("runtime did not start: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("runtime did not start in time")
	}
	clk.waitWaiters(t, 2) // Tick and Nightly; Off and Paused are disabled

	// echo answers {"statusCode": 200, "body": <the event it received>}.
	received := func(o outcome) []byte {
		t.Helper()
		if o.err != nil {
			t.Fatalf("%s: invocation failed: %v", o.rule, o.err)
		}
		var resp struct{ Body string }
		if err := json.Unmarshal(o.res.Payload, &resp); err != nil {
			t.Fatalf("%s: echo answered %s: %v", o.rule, o.res.Payload, err)
		}
		return []byte(resp.Body)
	}
	wait := func() outcome {
		t.Helper()
		select {
		case o := <-outcomes:
			return o
		case <-time.After(30 * time.Second):
			t.Fatal("no scheduled invocation")
			return outcome{}
		}
	}

	clk.advance(time.Minute)
	o := wait()
	if o.rule != "caas-Echo-Tick" {
		t.Fatalf("fired %s, want caas-Echo-Tick", o.rule)
	}
	wantScheduledEvent(t, received(o), "caas-Echo-Tick", t0.Add(time.Minute))
	clk.waitWaiters(t, 2)

	// To 03:00 in Paris: Nightly sends its Input; Tick fires once for the minutes it missed.
	clk.advance(time.Date(2026, 3, 3, 2, 0, 0, 0, time.UTC).Sub(clk.Now()))
	seen := map[string][]byte{}
	for len(seen) < 2 {
		o := wait()
		seen[o.rule] = received(o)
	}
	if got := string(seen["caas-Echo-Nightly"]); got != `{"job":"nightly"}` {
		t.Errorf("Nightly sent %s, want its Input", got)
	}
	if _, ok := seen["caas-Echo-Tick"]; !ok {
		t.Errorf("fired %v, want Tick and Nightly", seen)
	}

	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runtime shutdown: %v", err)
	}
}
