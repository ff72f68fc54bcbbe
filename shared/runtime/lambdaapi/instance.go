package lambdaapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"caas.dev/shared/runtime/template"
)

// maxResponseBytes is Lambda's limit on a synchronous response.
const maxResponseBytes = 6 << 20

// invocation is one event handed to an instance.
type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan outcome // buffered 1
}

type outcome struct {
	payload []byte
	err     *FunctionError
}

// instance is one bootstrap process and the Runtime API endpoint it talks to.
type instance struct {
	cfg     FunctionConfig
	cmd     *exec.Cmd
	srv     *http.Server
	started time.Time

	invokes    chan *invocation
	ready      chan struct{} // closed at the first /next
	readyOnce  sync.Once
	readyAt    time.Time
	initFailed chan struct{} // closed by /init/error
	initOnce   sync.Once
	exited     chan struct{} // closed when the process has ended
	stopOnce   sync.Once

	mu      sync.Mutex
	current *invocation
	initErr *FunctionError
	cold    bool
}

func startInstance(cfg FunctionConfig, fnLog *lockedWriter) (*instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the runtime API: %w", err)
	}
	inst := &instance{
		cfg: cfg, invokes: make(chan *invocation), ready: make(chan struct{}),
		initFailed: make(chan struct{}), exited: make(chan struct{}), cold: true,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", inst.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", inst.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", inst.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", inst.initError)
	inst.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go inst.srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at stop

	cmd := exec.Command(cfg.Bootstrap)
	cmd.Dir = filepath.Dir(cfg.Bootstrap)
	cmd.Env = environ(cfg, ln.Addr().String())
	cmd.Stdout = newLineWriter(cfg.Name, fnLog)
	cmd.Stderr = newLineWriter(cfg.Name, fnLog)
	// A process group, so a timeout kills whatever the function started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	inst.started = time.Now()
	if err := cmd.Start(); err != nil {
		inst.srv.Close()
		return nil, &FunctionError{Type: "Runtime.InvalidEntrypoint", Message: fmt.Sprintf("start %s: %v", cfg.Bootstrap, err)}
	}
	inst.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(inst.exited)
	}()
	return inst, nil
}

// environ builds the process environment as Lambda sets it: the function's variables, then the
// reserved ones, which a function cannot override.
func environ(cfg FunctionConfig, api string) []string {
	env := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin",
		"LANG": "en_US.UTF-8",
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	reserved := map[string]string{
		"AWS_LAMBDA_RUNTIME_API":          api,
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_REGION":                      template.Region,
		"AWS_DEFAULT_REGION":              template.Region,
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT":                filepath.Dir(cfg.Bootstrap),
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
	}
	for k, v := range reserved {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func (i *instance) alive() bool {
	select {
	case <-i.exited:
		return false
	case <-i.initFailed:
		return false
	default:
		return true
	}
}

// invoke runs one invocation. healthy says whether the instance may serve another.
func (i *instance) invoke(payload []byte) (res *Result, healthy bool, err error) {
	inv := &invocation{id: newRequestID(), payload: payload, done: make(chan outcome, 1)}
	res = &Result{RequestID: inv.id, Report: Report{RequestID: inv.id, MemoryMB: i.cfg.MemoryMB}}
	cold := i.cold
	i.cold = false

	if cold {
		timer := time.NewTimer(initTimeout)
		defer timer.Stop()
		select {
		case <-i.ready:
			res.Report.InitDuration = i.readyAt.Sub(i.started)
		case <-i.initFailed:
			res.Report.Status = "error"
			return res, false, i.initFailure()
		case <-i.exited:
			res.Report.Status = "crash"
			return res, false, i.exitFailure()
		case <-timer.C:
			res.Report.Status = "timeout"
			return res, false, ErrTimeout
		}
	}

	start := time.Now()
	inv.deadline = start.Add(i.cfg.Timeout)
	timer := time.NewTimer(i.cfg.Timeout)
	defer timer.Stop()
	defer func() {
		res.Report.Duration = time.Since(start)
		res.Report.MaxMemoryMB = i.maxMemoryMB()
	}()

	select {
	case i.invokes <- inv:
	case <-i.initFailed:
		res.Report.Status = "error"
		return res, false, i.initFailure()
	case <-i.exited:
		res.Report.Status = "crash"
		return res, false, i.exitFailure()
	case <-timer.C:
		res.Report.Status = "timeout"
		return res, false, ErrTimeout
	}

	select {
	case out := <-inv.done:
		if out.err != nil {
			res.Report.Status = "error"
			return res, true, out.err
		}
		res.Payload = out.payload
		return res, true, nil
	case <-i.exited:
		res.Report.Status = "crash"
		return res, false, i.exitFailure()
	case <-timer.C:
		res.Report.Status = "timeout"
		return res, false, ErrTimeout
	}
}

func (i *instance) initFailure() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.initErr != nil {
		return i.initErr
	}
	return &FunctionError{Type: "Runtime.InitError", Message: "init failed"}
}

func (i *instance) exitFailure() error {
	msg := "the runtime exited"
	if i.cmd != nil && i.cmd.ProcessState != nil {
		msg = "the runtime exited: " + i.cmd.ProcessState.String()
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: msg}
}

// maxMemoryMB reads the process's peak resident set size, as Lambda's Max Memory Used.
func (i *instance) maxMemoryMB() int {
	if i.cmd == nil || i.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", i.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return (kb + 1023) / 1024
		}
	}
	return 0
}

// stop kills the process group and closes the runtime API endpoint.
func (i *instance) stop() {
	i.stopOnce.Do(func() {
		if i.cmd != nil && i.cmd.Process != nil {
			_ = syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
			<-i.exited
		}
		_ = i.srv.Close()
	})
}

func (i *instance) next(w http.ResponseWriter, r *http.Request) {
	i.readyOnce.Do(func() {
		i.readyAt = time.Now()
		close(i.ready)
	})
	select {
	case inv := <-i.invokes:
		i.mu.Lock()
		i.current = inv
		i.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", template.FunctionARN(i.cfg.Name))
		h.Set("Lambda-Runtime-Trace-Id", traceID())
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	}
}

// take returns the invocation the path names, and forgets it so it is answered once.
func (i *instance) take(w http.ResponseWriter, r *http.Request) *invocation {
	id := r.PathValue("id")
	i.mu.Lock()
	inv := i.current
	if inv != nil && inv.id == id {
		i.current = nil
	}
	i.mu.Unlock()
	if inv == nil || inv.id != id {
		writeStatus(w, http.StatusBadRequest, "InvalidRequestID", "no invocation with this request id is in progress")
		return nil
	}
	return inv
}

func (i *instance) response(w http.ResponseWriter, r *http.Request) {
	inv := i.take(w, r)
	if inv == nil {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	switch {
	case err != nil:
		inv.done <- outcome{err: &FunctionError{Type: "Runtime.ResponseError", Message: "reading the response failed"}}
	case len(body) > maxResponseBytes:
		inv.done <- outcome{err: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "the response is over 6 MB"}}
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		inv.done <- outcome{err: &FunctionError{Type: r.Trailer.Get("Lambda-Runtime-Function-Error-Type"), Message: "the response stream failed"}}
	default:
		inv.done <- outcome{payload: body}
	}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (i *instance) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := i.take(w, r)
	if inv == nil {
		return
	}
	inv.done <- outcome{err: readError(r)}
	writeStatus(w, http.StatusAccepted, "", "")
}

func (i *instance) initError(w http.ResponseWriter, r *http.Request) {
	fe := readError(r)
	i.mu.Lock()
	i.initErr = fe
	i.mu.Unlock()
	i.initOnce.Do(func() { close(i.initFailed) })
	writeStatus(w, http.StatusAccepted, "", "")
}

func readError(r *http.Request) *FunctionError {
	var body struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_ = json.Unmarshal(b, &body)
	fe := &FunctionError{Type: body.Type, Message: body.Message}
	if fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func writeStatus(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code == "" {
		_, _ = w.Write([]byte(`{"status":"OK"}`))
		return
	}
	b, _ := json.Marshal(map[string]string{"errorType": code, "errorMessage": msg})
	_, _ = w.Write(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func traceID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%x;Sampled=0", time.Now().Unix(), b)
}

// lockedWriter serializes whole lines from many functions onto one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

// lineWriter prefixes every complete line of a function's output with the function's name.
type lineWriter struct {
	prefix []byte
	out    *lockedWriter
	buf    bytes.Buffer
}

func newLineWriter(name string, out *lockedWriter) *lineWriter {
	return &lineWriter{prefix: []byte("[" + name + "] "), out: out}
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// Keep the partial line for the next write, unless it grows unreasonably.
			if len(line) > 64<<10 {
				l.emit(append(line, '\n'))
			} else {
				rest := append([]byte(nil), line...)
				l.buf.Reset()
				l.buf.Write(rest)
			}
			return len(p), nil
		}
		l.emit(line)
	}
}

func (l *lineWriter) emit(line []byte) {
	out := make([]byte, 0, len(l.prefix)+len(line))
	out = append(out, l.prefix...)
	out = append(out, line...)
	l.out.writeLine(out)
}
