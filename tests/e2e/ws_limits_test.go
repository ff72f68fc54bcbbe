package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/apigatewaymanagementapi"
	"github.com/coder/websocket"
)

// API Gateway's WebSocket limits, which the runtime keeps.
const (
	maxFrame   = 32 * 1024
	maxMessage = 128 * 1024
)

// TestWSConnectRefused checks that $connect without a valid token is refused before the
// upgrade, and that both places a token may travel are accepted.
func TestWSConnectRefused(t *testing.T) {
	w := getWorld(t)
	tampered := w.alice.token[:len(w.alice.token)-2] + flip(w.alice.token[len(w.alice.token)-2:])
	for _, tc := range []struct {
		name        string
		token       string
		viaProtocol bool
	}{
		{"no token", "", false},
		{"garbage token", "not-a-token", false},
		{"tampered token", tampered, false},
		{"api key as token", w.a.apiKey, false},
		{"garbage subprotocol token", "not-a-token", true},
		{"tampered subprotocol token", tampered, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), pushDeadline)
			defer cancel()
			d, err := dialWS(ctx, the, tc.token, tc.viaProtocol)
			if err == nil {
				d.conn.CloseNow()
				t.Fatalf("the connection was upgraded")
			}
			if d.resp == nil {
				t.Fatalf("no HTTP answer to the handshake: %v", err)
			}
			if s := d.resp.StatusCode; s != http.StatusUnauthorized && s != http.StatusForbidden {
				t.Errorf("handshake answered %s, want 401 or 403", d.resp.Status)
			}
		})
	}
	for _, viaProtocol := range []bool{false, true} {
		c := connectWSWith(t, the, "alice", w.alice.token, viaProtocol)
		c.send(t, map[string]any{"action": "ping"})
		c.wait(t, "pong", ofType("pong"))
		c.close()
	}
}

// flip changes every character of s, keeping it in the base64url alphabet.
func flip(s string) string {
	b := []byte(s)
	for i := range b {
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

// TestWSDeadClient kills one of two devices of a user without a close frame; the next push to
// that user must find it gone and forget exactly that connection, while the other device
// still receives the message.
func TestWSDeadClient(t *testing.T) {
	w := getWorld(t)
	c := api()
	sender := mustRegister(t, c, w.a, "dead-sender")
	u := mustRegister(t, c, w.a, "dead-user")
	convID := createConversation(t, c, sender, "group", "Dead client "+suffix, u.id)

	var keep, victim *wsClient
	keepID := newConnectionID(t, the, u, func() { keep = connectWS(t, the, "keep", u.token) })
	victimID := newConnectionID(t, the, u, func() { victim = connectWS(t, the, "victim", u.token) })
	victim.kill()

	m := mustSend(t, c, sender, convID, "dead-1", "after the crash "+marker())
	keep.wait(t, "the message sent after the other device died", messageFrame(m.str("id")))

	mgmt := managementClient(t, the)
	deadline := time.Now().Add(pushDeadline)
	for {
		_, err := mgmt.GetConnection(&apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(victimID)})
		if isGone(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("GetConnection of the killed connection: want GoneException within %s, got %v", pushDeadline, err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitUnregistered(t, the, u, victimID)
	if ids := connectionIDs(t, the, u); !slices.Contains(ids, keepID) {
		t.Errorf("the live device's connection %s was removed with the dead one: registry has %v", keepID, ids)
	}
	if !keep.isOpen() {
		t.Errorf("the live device was disconnected: %s", keep.describe())
	}
}

// paddedPing is a ping action of exactly n bytes of JSON.
func paddedPing(n int) []byte {
	head, tail := `{"action":"ping","pad":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// TestWSSizeLimits checks API Gateway's limits: a frame over 32 KB or a message over 128 KB
// closes the connection with 1009; a frame or message at the limit is accepted.
func TestWSSizeLimits(t *testing.T) {
	w := getWorld(t)
	write := func(t *testing.T, c *wsClient, msg []byte, frameSize int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wr, err := c.conn.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatalf("open a message: %v", err)
		}
		// Each Write of the message writer is one frame.
		for len(msg) > 0 {
			n := min(frameSize, len(msg))
			if _, err := wr.Write(msg[:n]); err != nil {
				t.Logf("write a frame: %v (the server may already have closed)", err)
				return
			}
			msg = msg[n:]
		}
		if err := wr.Close(); err != nil {
			t.Logf("finish the message: %v (the server may already have closed)", err)
		}
	}
	for _, tc := range []struct {
		name       string
		size, frag int
		closes     bool
	}{
		{"frame at 32 KB", maxFrame, maxFrame, false},
		{"frame over 32 KB", maxFrame + 1, maxFrame + 1, true},
		{"message at 128 KB in 32 KB frames", maxMessage, maxFrame, false},
		{"message over 128 KB in 32 KB frames", maxMessage + 1, maxFrame, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectWS(t, the, "sizes", w.carol.token)
			write(t, c, paddedPing(tc.size), tc.frag)
			if tc.closes {
				err, closed := c.waitClosed(pushDeadline)
				if !closed {
					t.Fatalf("still open %s after a %d-byte message in %d-byte frames", pushDeadline, tc.size, tc.frag)
				}
				if got := closeStatus(err); got != websocket.StatusMessageTooBig {
					t.Errorf("closed with %v (%v), want 1009 (message too big)", got, err)
				}
				return
			}
			c.send(t, map[string]any{"action": "ping"})
			c.wait(t, "pong after a message within the limits", ofType("pong"))
			if !c.isOpen() {
				t.Errorf("closed after a %d-byte message in %d-byte frames: %s", tc.size, tc.frag, c.describe())
			}
		})
	}
}

// Short limits for the second run of TestWSIdleAndMaxAge.
const (
	testIdle   = 3 * time.Second
	testMaxAge = 10 * time.Second
)

// TestWSIdleAndMaxAge runs a second `caas run` with short idle and age limits (they apply to
// every connection of a run) and checks that each closes the connection and fires $disconnect,
// seen as the user going offline in GET presence.
func TestWSIdleAndMaxAge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second platform")
	}
	p := startSecondPlatform(t, "CAAS_WS_IDLE="+testIdle.String(), "CAAS_WS_MAX_AGE="+testMaxAge.String())
	c := &client{base: p.baseURL, hc: &http.Client{Timeout: 30 * time.Second}}
	tn, err := createTenantOn(c, p, "Limits "+suffix)
	if err != nil {
		t.Fatal(err)
	}
	alice := mustRegister(t, c, tn, "limits-alice")
	bob := mustRegister(t, c, tn, "limits-bob")
	convID := createConversation(t, c, alice, "group", "Limits "+suffix, bob.id)

	t.Run("idle", func(t *testing.T) {
		start := time.Now()
		ws := connectWS(t, p, "idle", alice.token)
		waitPresence(t, c, bob, convID, alice.id, true)
		err, closed := ws.waitClosed(testIdle + pushDeadline)
		elapsed := time.Since(start)
		if !closed {
			t.Fatalf("an idle connection was still open after %s (CAAS_WS_IDLE=%s)", elapsed, testIdle)
		}
		t.Logf("idle connection closed after %s: %v", elapsed.Round(time.Millisecond), err)
		if elapsed < testIdle/2 {
			t.Errorf("closed after %s, well before the idle limit %s", elapsed, testIdle)
		}
		waitPresence(t, c, bob, convID, alice.id, false)
	})

	t.Run("max age", func(t *testing.T) {
		start := time.Now()
		ws := connectWS(t, p, "aged", alice.token)
		// Pings keep the connection active, so only the age limit can end it.
		go func() {
			tick := time.NewTicker(testIdle / 3)
			defer tick.Stop()
			for ws.isOpen() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				ws.conn.Write(ctx, websocket.MessageText, []byte(`{"action":"ping"}`))
				cancel()
				<-tick.C
			}
		}()
		err, closed := ws.waitClosed(testMaxAge + pushDeadline)
		elapsed := time.Since(start)
		if !closed {
			t.Fatalf("an active connection was still open after %s (CAAS_WS_MAX_AGE=%s)", elapsed, testMaxAge)
		}
		t.Logf("active connection closed after %s: %v", elapsed.Round(time.Millisecond), err)
		if elapsed < testMaxAge*3/4 {
			t.Errorf("an active connection closed after %s, before the age limit %s (idle %s)", elapsed, testMaxAge, testIdle)
		}
		if n := ws.count(ofType("pong")); n == 0 {
			t.Errorf("no pong to the keep-alive pings: %s", ws.describe())
		}
		waitPresence(t, c, bob, convID, alice.id, false)
	})
}

// startSecondPlatform starts another `caas run` from the binaries TestMain built, with its own
// ports, state and embedded backends and the extra settings env; it stops when the test ends.
func startSecondPlatform(t *testing.T, env ...string) *platform {
	t.Helper()
	return startSecondPlatformWith(t, nil, env...)
}

// startSecondPlatformWith is startSecondPlatform with params for every function (variables the
// template declares).
func startSecondPlatformWith(t *testing.T, params map[string]string, env ...string) *platform {
	t.Helper()
	dir := t.TempDir()
	p := &platform{root: the.root, dir: dir, binDir: the.binDir, stateDir: filepath.Join(dir, "state"),
		logPath: filepath.Join(dir, "caas.log"), env: env, ownBackends: true, adminKey: randomKey(), params: params}
	for _, dst := range []*string{&p.addr, &p.wsAddr} {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		*dst = fmt.Sprintf("127.0.0.1:%d", port)
	}
	p.baseURL = "http://" + p.addr
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("second platform: %v", err)
		}
		if t.Failed() {
			p.printLog(os.Stderr)
		}
	})
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	if err := p.waitReady(); err != nil {
		t.Fatalf("second platform: %v", err)
	}
	return p
}

// createTenantOn creates a tenant on the platform p with p's admin key.
func createTenantOn(c *client, p *platform, name string) (*tenant, error) {
	r, err := c.send("POST", "/v1/tenants", hdr{"X-Admin-Key": p.adminKey}, map[string]string{"name": name})
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusCreated || r.str("id") == "" {
		return nil, fmt.Errorf("create tenant: want 201 with id: %s", r)
	}
	return &tenant{id: r.str("id"), name: r.str("name"), apiKey: r.str("api_key")}, nil
}
