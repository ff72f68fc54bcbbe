// Package lambdaapi hosts Lambda functions locally: each function instance is its real bootstrap
// binary in its own process, served by this package's implementation of the Lambda Runtime API.
// Warm instances are reused, concurrent invocations start more instances up to a limit, and the
// function's timeout is enforced by killing the instance, as Lambda does.
package lambdaapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultMaxInstances is the per-function instance limit when a function sets none.
const DefaultMaxInstances = 10

// initTimeout bounds a cold start, as Lambda bounds the init phase.
const initTimeout = 10 * time.Second

var (
	// ErrTimeout reports an invocation that ran past the function's timeout; the instance was
	// killed.
	ErrTimeout = errors.New("function timed out")
	// ErrUnknownFunction reports an invocation of a function the host does not have.
	ErrUnknownFunction = errors.New("no such function")
	// ErrClosed reports an invocation after Close.
	ErrClosed = errors.New("host closed")
)

// FunctionError is a failure the function itself caused: an error it returned or reported at
// init, or a crash of its process.
type FunctionError struct {
	// Type is the errorType the runtime posted, or Runtime.ExitError, Runtime.InitError.
	Type    string
	Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// FunctionConfig describes one function to host.
type FunctionConfig struct {
	Name      string
	Bootstrap string // path of the executable
	// Env is the function's own environment; the host adds the AWS_LAMBDA_* variables.
	Env          map[string]string
	Timeout      time.Duration
	MemoryMB     int
	MaxInstances int // 0 means DefaultMaxInstances
}

// Result is the outcome of a successful invocation.
type Result struct {
	Payload   []byte
	RequestID string
	// Report holds the figures of the REPORT line.
	Report Report
}

// Report holds what a Lambda REPORT line says about one invocation.
type Report struct {
	RequestID    string
	Duration     time.Duration
	InitDuration time.Duration // zero on a warm start
	MemoryMB     int
	MaxMemoryMB  int
	Status       string // "", "error", "timeout" or "crash"
}

// Host runs functions. Its zero value is not usable; call NewHost.
type Host struct {
	logger *slog.Logger
	fnLog  *lockedWriter

	mu     sync.Mutex
	fns    map[string]*function
	closed bool

	// OnReport, when set, receives every report after it is logged. Tests use it.
	OnReport func(function string, r Report)
}

// NewHost returns a host that logs REPORT lines to logger and forwards every line a function
// prints, prefixed with the function's name, to fnLog.
func NewHost(logger *slog.Logger, fnLog io.Writer) *Host {
	return &Host{logger: logger, fnLog: &lockedWriter{w: fnLog}, fns: map[string]*function{}}
}

// Add registers a function. Instances start on demand.
func (h *Host) Add(cfg FunctionConfig) {
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = 128
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fns[cfg.Name] = &function{cfg: cfg, host: h, slots: make(chan struct{}, cfg.MaxInstances), all: map[*instance]struct{}{}}
}

// Invoke runs one invocation of the named function with payload as its event. It waits for a
// free instance when all are busy. A function failure is a *FunctionError; a timeout ErrTimeout.
func (h *Host) Invoke(ctx context.Context, name string, payload []byte) (*Result, error) {
	h.mu.Lock()
	fn, ok := h.fns[name]
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("invoke %s: %w", name, ErrUnknownFunction)
	}

	select {
	case fn.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("invoke %s: wait for an instance: %w", name, ctx.Err())
	}
	defer func() { <-fn.slots }()

	inst, err := fn.take()
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", name, err)
	}
	res, healthy, err := inst.invoke(payload)
	if healthy {
		fn.put(inst)
	} else {
		fn.discard(inst)
	}
	h.report(name, res.Report)
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Instances returns how many instances of the named function are running.
func (h *Host) Instances(name string) int {
	h.mu.Lock()
	fn := h.fns[name]
	h.mu.Unlock()
	if fn == nil {
		return 0
	}
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return len(fn.all)
}

// Close kills every instance. Invocations in flight fail.
func (h *Host) Close() error {
	h.mu.Lock()
	h.closed = true
	fns := make([]*function, 0, len(h.fns))
	for _, fn := range h.fns {
		fns = append(fns, fn)
	}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, fn := range fns {
		fn.mu.Lock()
		for inst := range fn.all {
			wg.Add(1)
			go func() { defer wg.Done(); inst.stop() }()
		}
		fn.all = map[*instance]struct{}{}
		fn.idle = nil
		fn.mu.Unlock()
	}
	wg.Wait()
	return nil
}

// function is the pool of instances of one function.
type function struct {
	cfg   FunctionConfig
	host  *Host
	slots chan struct{} // one per busy instance: bounds concurrency

	mu   sync.Mutex
	idle []*instance
	all  map[*instance]struct{}
}

// take returns a warm idle instance, or starts a new one.
func (f *function) take() (*instance, error) {
	f.mu.Lock()
	for len(f.idle) > 0 {
		inst := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if inst.alive() {
			f.mu.Unlock()
			return inst, nil
		}
		delete(f.all, inst)
		go inst.stop()
	}
	f.mu.Unlock()

	inst, err := startInstance(f.cfg, f.host.fnLog)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.all[inst] = struct{}{}
	f.mu.Unlock()
	return inst, nil
}

func (f *function) put(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.all[inst]; !ok {
		// Close ran meanwhile.
		go inst.stop()
		return
	}
	f.idle = append(f.idle, inst)
}

func (f *function) discard(inst *instance) {
	f.mu.Lock()
	delete(f.all, inst)
	f.mu.Unlock()
	inst.stop()
}

func (h *Host) report(name string, r Report) {
	billed := r.Duration.Milliseconds()
	if r.Duration%time.Millisecond != 0 || billed == 0 {
		billed++
	}
	msg := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		r.RequestID, ms(r.Duration), billed, r.MemoryMB, r.MaxMemoryMB)
	attrs := []any{
		"function", name, "request_id", r.RequestID, "duration_ms", ms(r.Duration),
		"billed_duration_ms", billed, "memory_size_mb", r.MemoryMB, "max_memory_used_mb", r.MaxMemoryMB,
	}
	if r.InitDuration > 0 {
		msg += fmt.Sprintf("\tInit Duration: %.2f ms", ms(r.InitDuration))
		attrs = append(attrs, "init_duration_ms", ms(r.InitDuration))
	}
	if r.Status != "" {
		msg += "\tStatus: " + r.Status
		attrs = append(attrs, "status", r.Status)
	}
	h.logger.Info(msg, attrs...)
	if h.OnReport != nil {
		h.OnReport(name, r)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
