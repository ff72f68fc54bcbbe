package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fanoutDeadline bounds the wait for one message to reach every connection of a benchmark.
const fanoutDeadline = 2 * time.Minute

// BenchmarkFanout100 measures fan-out to 100 connected members of one group conversation.
func BenchmarkFanout100(b *testing.B) { benchFanout(b, 100) }

// BenchmarkFanout1000 measures fan-out to 1,000 connected members, a group's maximum.
func BenchmarkFanout1000(b *testing.B) { benchFanout(b, 1000) }

// benchFanout sends one message at a time over HTTP from one member and waits until each of
// the n members' connections (the sender's included) has received it. It reports deliveries
// per second and the p50 and p99 of the time from starting the send to each receipt: HTTP API,
// SendMessage, Kafka, MessageFanout, the management API and the WebSocket write, as a client
// sees them. Users, the conversation and the connections are set up once per n and reused
// across the benchmark's runs; setup is not timed.
func benchFanout(b *testing.B, n int) {
	f := fanoutSetup(b, n)
	c := api()
	sender := f.users[0]
	run := randomHex(4)

	var latencies []time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		body := fmt.Sprintf("fanout %s %d", run, i)
		w := f.expect(body, n)
		sent := time.Now()
		r, err := c.send("POST", "/v1/conversations/"+f.convID+"/messages", bearer(sender.token),
			map[string]string{"client_msg_id": fmt.Sprintf("fan-%s-%d", run, i), "body": body})
		if err != nil || r.status != 201 {
			b.Fatalf("send: %v %v", err, r)
		}
		w.sent(sent)
		select {
		case <-w.done:
		case <-time.After(fanoutDeadline):
			f.mu.Lock()
			frames := fmt.Sprint(f.frames)
			f.mu.Unlock()
			b.Fatalf("message %d reached %d of %d connections within %s; frames received by type: %s",
				i, w.received.Load(), n, fanoutDeadline, frames)
		}
		latencies = append(latencies, w.latencies()...)
		f.forget(body)
	}
	elapsed := time.Since(start)
	b.StopTimer()

	slices.Sort(latencies)
	b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(percentile(latencies, 50))/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(percentile(latencies, 99))/float64(time.Millisecond), "p99-ms")
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

// fanout is a conversation of n members, each with one open connection.
type fanout struct {
	n      int
	convID string
	users  []*user
	conns  []*websocket.Conn

	mu      sync.Mutex
	waiting map[string]*fanoutWait // by message body
	frames  map[string]int         // every frame received, by type, for failure messages
}

// fanoutWait collects the receipts of one message.
type fanoutWait struct {
	want     int
	received atomic.Int64
	done     chan struct{}
	start    chan struct{} // closed once the send's start time is set
	at       time.Time

	mu       sync.Mutex
	receipts []time.Time
}

func (f *fanout) expect(body string, want int) *fanoutWait {
	w := &fanoutWait{want: want, done: make(chan struct{}), start: make(chan struct{})}
	f.mu.Lock()
	f.waiting[body] = w
	f.mu.Unlock()
	return w
}

func (f *fanout) forget(body string) {
	f.mu.Lock()
	delete(f.waiting, body)
	f.mu.Unlock()
}

func (w *fanoutWait) sent(at time.Time) {
	w.at = at
	close(w.start)
}

func (w *fanoutWait) receive(at time.Time) {
	w.mu.Lock()
	w.receipts = append(w.receipts, at)
	w.mu.Unlock()
	if w.received.Add(1) == int64(w.want) {
		close(w.done)
	}
}

func (w *fanoutWait) latencies() []time.Duration {
	<-w.start
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Duration, len(w.receipts))
	for i, at := range w.receipts {
		out[i] = at.Sub(w.at)
	}
	return out
}

// read counts each message.created push a connection receives against its wait.
func (f *fanout) read(conn *websocket.Conn) {
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return
		}
		at := time.Now()
		var push struct {
			Type    string `json:"type"`
			Message struct {
				Body string `json:"body"`
			} `json:"message"`
		}
		if json.Unmarshal(data, &push) != nil {
			push.Type = "(not JSON)"
		}
		f.mu.Lock()
		f.frames[push.Type]++
		var w *fanoutWait
		if push.Type == "message.created" {
			w = f.waiting[push.Message.Body]
		}
		f.mu.Unlock()
		if w != nil {
			w.receive(at)
		}
	}
}

func (f *fanout) close() {
	for _, c := range f.conns {
		c.Close(websocket.StatusNormalClosure, "")
	}
	f.conns = nil
}

var (
	benchMu     sync.Mutex
	benchTenant *tenant
	benchUsers  []*user
	benchConvs  = map[int]string{}
	benchActive *fanout
)

// fanoutSetup returns the conversation of n members with every member connected. Users and
// conversations are kept for the whole run; only one benchmark's connections are open at a
// time, since a user's every connection receives the user's pushes.
func fanoutSetup(b *testing.B, n int) *fanout {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if benchActive != nil && benchActive.n == n {
		return benchActive
	}
	if benchActive != nil {
		benchActive.close()
		benchActive = nil
	}
	started := time.Now()
	c := api()
	if benchTenant == nil {
		tn, err := createTenant(c, "Fanout bench "+suffix)
		if err != nil {
			b.Fatal(err)
		}
		benchTenant = tn
	}
	if err := registerBenchUsers(c, n); err != nil {
		b.Fatal(err)
	}
	users := benchUsers[:n]
	convID, ok := benchConvs[n]
	if !ok {
		ids := make([]string, 0, n-1)
		for _, u := range users[1:] {
			ids = append(ids, u.id)
		}
		convID = createConversation(b, c, users[0], "group", fmt.Sprintf("Fanout %d %s", n, suffix), ids...)
		benchConvs[n] = convID
	}
	f := &fanout{n: n, convID: convID, users: users, conns: make([]*websocket.Conn, n), waiting: map[string]*fanoutWait{}, frames: map[string]int{}}
	// Members connect 8 at a time, as a crowd joining a room does.
	if err := parallel(n, 8, func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d, err := dialWS(ctx, the, users[i].token, false)
		if err != nil {
			return err
		}
		d.conn.SetReadLimit(1 << 20)
		f.conns[i] = d.conn
		go f.read(d.conn)
		return nil
	}); err != nil {
		f.close()
		b.Fatalf("connect %d members: %v", n, err)
	}
	benchActive = f
	b.Logf("fan-out setup for %d members took %s", n, time.Since(started).Round(time.Millisecond))
	return f
}

// registerBenchUsers grows benchUsers to n users of the bench tenant. Registration and login
// each cost an argon2id hash, so they run a few at a time.
func registerBenchUsers(c *client, n int) error {
	have := len(benchUsers)
	if have >= n {
		return nil
	}
	more := make([]*user, n-have)
	err := parallel(len(more), 2*runtime.GOMAXPROCS(0), func(i int) error {
		u, err := registerAndLogin(c, benchTenant, fmt.Sprintf("fan%d", have+i))
		more[i] = u
		return err
	})
	if err != nil {
		return fmt.Errorf("register bench users: %w", err)
	}
	benchUsers = append(benchUsers, more...)
	return nil
}

// parallel runs fn(0..n-1) on at most workers goroutines and returns the first error.
func parallel(n, workers int, fn func(i int) error) error {
	next := atomic.Int64{}
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
