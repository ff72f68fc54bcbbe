package runtime

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"caas.dev/shared/apigw"
)

func TestWebSocketFrameAndMessageLimits(t *testing.T) {
	rt := startWS(t, "websocket.yaml", nil)
	ctx := context.Background()

	t.Run("frame over 32 KB", func(t *testing.T) {
		c, id := rt.dial(t, "?token=good", nil)
		c.SetReadLimit(-1)
		// The library sends a message written at once as one frame.
		_ = c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("a"), 32<<10+1))
		if ce := readClose(t, c); ce.Code != websocket.StatusMessageTooBig {
			t.Errorf("client saw close %v, want 1009", ce.Code)
		}
		ev := rt.waitEvents(t, id, "DISCONNECT", 1)[0]
		if code := rc(ev)["disconnectStatusCode"]; code != float64(1009) {
			t.Errorf("disconnectStatusCode %v, want 1009", code)
		}
	})

	t.Run("message over 128 KB in small frames", func(t *testing.T) {
		c, id := rt.dial(t, "?token=good", nil)
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 { // 5 frames of 30 KB: each frame is allowed, the message is not
			if _, err := w.Write(bytes.Repeat([]byte("b"), 30<<10)); err != nil {
				break
			}
		}
		_ = w.Close()
		if ce := readClose(t, c); ce.Code != websocket.StatusMessageTooBig {
			t.Errorf("client saw close %v, want 1009", ce.Code)
		}
		ev := rt.waitEvents(t, id, "DISCONNECT", 1)[0]
		if code := rc(ev)["disconnectStatusCode"]; code != float64(1009) {
			t.Errorf("disconnectStatusCode %v, want 1009", code)
		}
	})

	t.Run("message of 100 KB in 4 frames passes", func(t *testing.T) {
		c, id := rt.dial(t, "?token=good", nil)
		w, err := c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			if _, err := w.Write(bytes.Repeat([]byte("c"), 25<<10)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		ev := rt.waitEvents(t, id, "MESSAGE", 1)[0]
		if n := len(ev["body"].(string)); n != 100<<10 {
			t.Errorf("body of %d bytes, want %d", n, 100<<10)
		}
	})
}

func TestWebSocketIdleAndMaxAge(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		reason string
	}{
		{"idle", map[string]string{"CAAS_WS_IDLE": "1s"}, "idle"},
		{"max age", map[string]string{"CAAS_WS_IDLE": "1h", "CAAS_WS_MAX_AGE": "1s"}, "maximum connection duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := startWS(t, "websocket.yaml", tt.env)
			c, id := rt.dial(t, "?token=good", nil)
			start := time.Now()
			ce := readClose(t, c)
			if ce.Code != websocket.StatusGoingAway || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("client saw close %v %q, want 1001 mentioning %q", ce.Code, ce.Reason, tt.reason)
			}
			if waited := time.Since(start); waited < 500*time.Millisecond {
				t.Errorf("closed after %v, before the limit", waited)
			}
			ctx := rc(rt.waitEvents(t, id, "DISCONNECT", 1)[0])
			if ctx["disconnectStatusCode"] != float64(1001) || !strings.Contains(ctx["disconnectReason"].(string), tt.reason) {
				t.Errorf("disconnect %v %q", ctx["disconnectStatusCode"], ctx["disconnectReason"])
			}
		})
	}
}

func TestWebSocketActivityKeepsIdleConnection(t *testing.T) {
	rt := startWS(t, "websocket.yaml", map[string]string{"CAAS_WS_IDLE": "1s"})
	c, id := rt.dial(t, "?token=good", nil)
	for i := range 6 { // 1.8 s of messages, each within the idle limit of the one before
		if err := c.Write(context.Background(), websocket.MessageText, []byte(`{"action":"send"}`)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if n := len(rt.recorded(t, id, "DISCONNECT")); n != 0 {
		t.Errorf("an active connection was closed as idle")
	}
}

// BenchmarkManagementPush measures a push through the management API (package apigw, as the
// functions push) until the connected client has read it.
func BenchmarkManagementPush(b *testing.B) {
	rt := startWS(b, "websocket.yaml", nil)
	c, id := rt.dial(b, "?token=good", nil)
	client, err := apigw.New(rt.mgmtURL(), apigw.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	payload := []byte(`{"type":"message","conversation_id":"cnv_1","body":"hello"}`)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if err := client.PostToConnection(ctx, id, payload); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}
