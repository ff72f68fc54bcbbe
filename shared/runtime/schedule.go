package runtime

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"caas.dev/shared/runtime/lambdaapi"
	"caas.dev/shared/runtime/schedule"
	"caas.dev/shared/runtime/template"
)

// SchedulesEnv names the variable that turns the firing of Schedule and ScheduleV2 events off
// when set to "off". The expressions are still checked at start.
const SchedulesEnv = "CAAS_SCHEDULES"

// invoker runs a function; *lambdaapi.Host is one.
type invoker interface {
	Invoke(ctx context.Context, name string, payload []byte) (*lambdaapi.Result, error)
}

// clock is the scheduler's time: tests replace the system clock with one they move by hand.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Knobs for tests of the whole runtime, read when Run builds its scheduler.
var (
	scheduleClock   clock = systemClock{}
	onScheduleFired func(rule string, res *lambdaapi.Result, err error)
)

// scheduler fires the Schedule and ScheduleV2 events of a template. Each rule has a goroutine
// that waits for its next time and invokes the function in a goroutine of its own, so a slow
// invocation never shifts the rule's times; a time that comes while the rule's previous
// invocation still runs is skipped, as a failed invocation is: the next time tries again.
type scheduler struct {
	logger *slog.Logger
	clock  clock
	rules  []*rule
	off    bool
	// onDone, when set, sees the outcome of every invocation, once the rule may fire again.
	onDone func(rule string, res *lambdaapi.Result, err error)

	inv          invoker
	stopTicks    context.CancelFunc // stops the rules' goroutines
	cancelInvoke context.CancelFunc // abandons invocations still waiting for an instance
	wg           sync.WaitGroup     // the rules' goroutines and their invocations
	stopOnce     sync.Once
}

// rule is one enabled schedule event.
type rule struct {
	name     string // <stack>-<function>-<event>, the rule's name in its ARN
	function string
	expr     schedule.Expression
	input    []byte // the template's Input; nil sends a scheduled event
	running  atomic.Bool
}

// newScheduler reads the schedules of tmpl. An expression EventBridge would refuse is an error
// naming the function and the event; a disabled event is left out.
func newScheduler(tmpl *template.Template, getenv func(string) string, logger *slog.Logger) (*scheduler, error) {
	s := &scheduler{logger: logger, clock: scheduleClock, onDone: onScheduleFired, off: getenv(SchedulesEnv) == "off"}
	for _, fn := range tmpl.FunctionNames() {
		for _, ev := range tmpl.Functions[fn].Schedules {
			var loc *time.Location
			if ev.Timezone != "" {
				var err error
				if loc, err = time.LoadLocation(ev.Timezone); err != nil {
					return nil, fmt.Errorf("function %s: event %s: ScheduleExpressionTimezone %q: %w", fn, ev.Name, ev.Timezone, err)
				}
			}
			expr, err := schedule.Parse(ev.Expression, loc)
			if err != nil {
				return nil, fmt.Errorf("function %s: event %s: %w", fn, ev.Name, err)
			}
			name := template.StackName + "-" + fn + "-" + ev.Name
			if !ev.Enabled {
				logger.Info("schedule disabled in the template", "function", fn, "rule", name, "schedule", ev.Expression)
				continue
			}
			r := &rule{name: name, function: fn, expr: expr}
			if ev.Input != "" {
				r.input = []byte(ev.Input)
			}
			s.rules = append(s.rules, r)
		}
	}
	return s, nil
}

// start fires the rules through inv until ctx ends or stop is called.
func (s *scheduler) start(ctx context.Context, inv invoker) {
	if len(s.rules) == 0 {
		return
	}
	if s.off {
		s.logger.Info("schedules not fired: "+SchedulesEnv+"=off", "rules", len(s.rules))
		return
	}
	s.inv = inv
	var tickCtx, invokeCtx context.Context
	tickCtx, s.stopTicks = context.WithCancel(ctx)
	// Run's ctx ends when shutdown begins; an invocation under way may still finish.
	invokeCtx, s.cancelInvoke = context.WithCancel(context.WithoutCancel(ctx))
	for _, r := range s.rules {
		s.logger.Info("schedule", "function", r.function, "rule", r.name, "schedule", r.expr.String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(tickCtx, invokeCtx, r)
		}()
	}
}

// stop stops firing and waits until the invocations under way end or ctx does. It may be called
// more than once, and without start.
func (s *scheduler) stop(ctx context.Context) {
	if s.stopTicks == nil {
		return
	}
	s.stopOnce.Do(func() {
		s.stopTicks()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.logger.Warn("scheduled invocations still running at shutdown")
		}
		s.cancelInvoke()
	})
}

// run waits for each time of r and fires it.
func (s *scheduler) run(ctx, invokeCtx context.Context, r *rule) {
	next := r.expr.Next(s.clock.Now())
	for !next.IsZero() {
		select {
		case <-ctx.Done():
			return
		case <-s.clock.After(next.Sub(s.clock.Now())):
		}
		if ctx.Err() != nil {
			return // the time came as shutdown began
		}
		s.fire(invokeCtx, r, next)

		// Times missed while the machine slept are not caught up: the rule resumes from now.
		after := next
		if now := s.clock.Now(); now.After(after) {
			after = now
		}
		next = r.expr.Next(after)
	}
	s.logger.Info("schedule has no further times", "function", r.function, "rule", r.name)
}

// fire invokes r's function for its time at, unless its previous invocation still runs.
func (s *scheduler) fire(ctx context.Context, r *rule, at time.Time) {
	if !r.running.CompareAndSwap(false, true) {
		s.logger.Warn("scheduled invocation skipped: the previous one is still running",
			"function", r.function, "rule", r.name, "time", at.UTC())
		return
	}
	payload := r.input
	if payload == nil {
		payload = scheduledEvent(r.name, at)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		res, err := s.inv.Invoke(ctx, r.function, payload)
		if err != nil {
			s.logger.Warn("scheduled invocation failed; the next time tries again",
				"function", r.function, "rule", r.name, "time", at.UTC(), "error", err)
		}
		r.running.Store(false)
		if s.onDone != nil {
			s.onDone(r.name, res, err)
		}
	}()
}

// scheduledEventJSON is the event EventBridge sends the target of a scheduled rule.
type scheduledEventJSON struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// scheduledEvent returns the event of rule's time at.
func scheduledEvent(rule string, at time.Time) []byte {
	ev := scheduledEventJSON{
		Version: "0", ID: newUUID(), DetailType: "Scheduled Event", Source: "aws.events",
		Account: template.AccountID, Time: at.UTC().Format(time.RFC3339), Region: template.Region,
		Resources: []string{"arn:aws:events:" + template.Region + ":" + template.AccountID + ":rule/" + rule},
		Detail:    json.RawMessage("{}"),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic("encode scheduled event: " + err.Error()) // strings and a constant: cannot fail
	}
	return b
}

// newUUID returns a random (version 4) UUID, as EventBridge event ids are.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
