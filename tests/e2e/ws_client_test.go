package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pushDeadline bounds the wait for a push that should arrive: the Kafka consumer, a cold
// MessageFanout and the management API sit between a send and its receipt.
const pushDeadline = 30 * time.Second

// quietPeriod is how long a test watches for frames that must not arrive, or for a repeat of
// one that did, after everything expected has arrived.
const quietPeriod = 2 * time.Second

// wsPath is the WebSocket stage of template.yaml: the API answers on /live, the management API
// on /live/@connections/{id}.
const wsPath = "/live"

// frame is one WebSocket message a client received.
type frame struct {
	at  time.Time
	raw []byte
	obj map[string]any // nil when the message is not a JSON object
}

func (f frame) str(key string) string {
	s, _ := f.obj[key].(string)
	return s
}

// wsClient is one WebSocket connection to the platform. A goroutine reads every message into a
// log the test inspects; nothing is de-duplicated, so repeats can be counted.
type wsClient struct {
	name string
	conn *websocket.Conn
	raw  net.Conn // the TCP connection under conn, closed by kill without a close frame

	mu      sync.Mutex
	frames  []frame
	changed chan struct{} // closed and replaced whenever frames grows or the reader stops
	done    chan struct{} // closed when the reader stops
	readErr error
}

// wsDial is the outcome of one opening handshake.
type wsDial struct {
	conn *websocket.Conn
	raw  net.Conn
	resp *http.Response // the handshake answer, also when the upgrade was refused
}

// dialWS opens a connection to p's WebSocket API. With a token and viaProtocol false the token
// goes in the token query parameter; with viaProtocol it goes in Sec-WebSocket-Protocol as the
// second of the subprotocols "caas" and the token, as browsers must send it.
func dialWS(ctx context.Context, p *platform, token string, viaProtocol bool) (*wsDial, error) {
	u := "ws://" + p.wsAddr + wsPath
	opts := &websocket.DialOptions{}
	if token != "" && !viaProtocol {
		u += "?token=" + url.QueryEscape(token)
	}
	if viaProtocol {
		opts.Subprotocols = []string{"caas", token}
	}
	d := &wsDial{}
	opts.HTTPClient = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				d.raw = c
			}
			return c, err
		},
	}}
	conn, resp, err := websocket.Dial(ctx, u, opts)
	d.resp = resp
	if err != nil {
		if d.raw != nil {
			d.raw.Close()
		}
		// The client's error names the URL, which holds the token: keep it out of test output.
		msg := err.Error()
		if token != "" {
			msg = strings.ReplaceAll(msg, url.QueryEscape(token), "REDACTED")
			msg = strings.ReplaceAll(msg, token, "REDACTED")
		}
		return d, fmt.Errorf("dial %s: %s", p.wsAddr+wsPath, msg)
	}
	d.conn = conn
	return d, nil
}

// connectWS opens a connection with the token in the query, ending the test on failure; the
// connection is closed when the test ends.
func connectWS(t testing.TB, p *platform, name, token string) *wsClient {
	t.Helper()
	return connectWSWith(t, p, name, token, false)
}

// connectWSWith is connectWS choosing where the token goes.
func connectWSWith(t testing.TB, p *platform, name, token string, viaProtocol bool) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pushDeadline)
	defer cancel()
	d, err := dialWS(ctx, p, token, viaProtocol)
	if err != nil {
		status := "no answer"
		if d.resp != nil {
			status = d.resp.Status
		}
		t.Fatalf("%s: connect: %v (handshake: %s)", name, err, status)
	}
	c := newWSClient(name, d)
	t.Cleanup(func() { c.close() })
	return c
}

func newWSClient(name string, d *wsDial) *wsClient {
	c := &wsClient{name: name, conn: d.conn, raw: d.raw, changed: make(chan struct{}), done: make(chan struct{})}
	// Pushes are small; the limit only has to exceed anything the platform sends.
	c.conn.SetReadLimit(1 << 20)
	go c.read()
	return c
}

func (c *wsClient) read() {
	for {
		_, data, err := c.conn.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.readErr = err
			close(c.done)
			close(c.changed)
			c.mu.Unlock()
			return
		}
		f := frame{at: time.Now(), raw: data}
		json.Unmarshal(data, &f.obj)
		c.frames = append(c.frames, f)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
}

// send writes v as one JSON text message.
func (c *wsClient) send(t testing.TB, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: encode frame: %v", c.name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("%s: send %s: %v", c.name, b, err)
	}
}

// all returns the frames matching match, in arrival order.
func (c *wsClient) all(match func(frame) bool) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if match(f) {
			out = append(out, f)
		}
	}
	return out
}

// count is the number of frames matching match.
func (c *wsClient) count(match func(frame) bool) int { return len(c.all(match)) }

// waitN waits until at least n frames match, up to timeout, and returns those seen.
func (c *wsClient) waitN(n int, timeout time.Duration, match func(frame) bool) []frame {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		changed, done := c.changed, c.done
		c.mu.Unlock()
		if got := c.all(match); len(got) >= n {
			return got
		}
		select {
		case <-done:
			return c.all(match)
		case <-changed:
		case <-deadline.C:
			return c.all(match)
		}
	}
}

// wait waits for one frame matching match and returns it; what says what was awaited. When
// none arrives it reports an error and returns a frame with a nil obj, so one missing push
// does not hide the checks after it.
func (c *wsClient) wait(t testing.TB, what string, match func(frame) bool) frame {
	t.Helper()
	got := c.waitN(1, pushDeadline, match)
	if len(got) == 0 {
		t.Errorf("%s: no %s within %s; %s", c.name, what, pushDeadline, c.describe())
		return frame{}
	}
	return got[0]
}

// waitClosed waits for the connection to end and returns the reader's error: a
// websocket.CloseError when the server closed it with a close frame.
func (c *wsClient) waitClosed(timeout time.Duration) (error, bool) {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.readErr, true
	case <-time.After(timeout):
		return nil, false
	}
}

// isOpen reports whether the reader still runs.
func (c *wsClient) isOpen() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// describe summarises what the client received, for failure messages.
func (c *wsClient) describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := fmt.Sprintf("%d frames received", len(c.frames))
	for i, f := range c.frames {
		if i == 20 {
			s += " ..."
			break
		}
		raw := string(f.raw)
		if len(raw) > 200 {
			raw = raw[:200] + "..."
		}
		s += "\n    " + raw
	}
	if c.readErr != nil {
		s += fmt.Sprintf("\n    closed: %v", c.readErr)
	}
	return s
}

// close ends the connection with a normal close frame.
func (c *wsClient) close() {
	c.conn.Close(websocket.StatusNormalClosure, "")
	if c.raw != nil {
		c.raw.Close()
	}
}

// kill drops the TCP connection without a close frame, as a crashed client or a lost network
// would.
func (c *wsClient) kill() {
	c.raw.Close()
	c.conn.CloseNow()
}

// Matchers for pushed frames.

func ofType(typ string) func(frame) bool {
	return func(f frame) bool { return f.str("type") == typ }
}

// messageFrame matches the message.created push of the message id.
func messageFrame(id string) func(frame) bool {
	return func(f frame) bool {
		if f.str("type") != "message.created" {
			return false
		}
		m, _ := f.obj["message"].(map[string]any)
		s, _ := m["id"].(string)
		return s == id
	}
}

// mentions matches any frame whose raw text contains one of the strings: an id of another
// conversation or tenant that must never reach the client.
func mentions(ss ...string) func(frame) bool {
	return func(f frame) bool {
		for _, s := range ss {
			if s != "" && bytes.Contains(f.raw, []byte(s)) {
				return true
			}
		}
		return false
	}
}

// closeStatus is the close code of a reader's error, -1 when there was no close frame.
func closeStatus(err error) websocket.StatusCode {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}
