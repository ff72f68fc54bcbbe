package realtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/clock"
	"caas.dev/shared/realtime"
	"caas.dev/shared/redis"
)

// pusher is a hand-written management API: it records what each connection received and
// answers 410 for the connections marked gone.
type pusher struct {
	mu       sync.Mutex
	got      map[string][]map[string]any
	gone     map[string]bool
	failing  map[string]bool
	attempts map[string]int
}

func newPusher() *pusher {
	return &pusher{got: map[string][]map[string]any{}, gone: map[string]bool{}, failing: map[string]bool{}, attempts: map[string]int{}}
}

func (p *pusher) PostToConnection(_ context.Context, id string, data []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts[id]++
	if p.gone[id] {
		return fmt.Errorf("post: %w", realtime.ErrGone)
	}
	if p.failing[id] {
		return errors.New("throttled by the management API")
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	p.got[id] = append(p.got[id], v)
	return nil
}

// received returns the events connection id received.
func (p *pusher) received(id string) []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got[id])
}

// fakeChat is an in-memory chat domain: conversations with members and messages, per tenant.
type fakeChat struct {
	mu      sync.Mutex
	members map[string][]string     // tenant/conversation -> members
	msgs    map[string]chat.Message // tenant/message -> message
	read    map[string]int64        // tenant/conversation/user -> read seq
	down    bool                    // every call fails as a broken backend
	nextSeq int64
}

func newFakeChat() *fakeChat {
	return &fakeChat{members: map[string][]string{}, msgs: map[string]chat.Message{}, read: map[string]int64{}}
}

var errDown = errors.New("mongo: connection refused")

func (c *fakeChat) addConversation(tenant, id string, members ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.members[tenant+"/"+id] = members
}

func (c *fakeChat) addMessage(m chat.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs[m.TenantID+"/"+m.ID] = m
}

func (c *fakeChat) isMember(tenant, user, conv string) bool {
	return slices.Contains(c.members[tenant+"/"+conv], user)
}

func (c *fakeChat) SendMessage(_ context.Context, tenant, sender, conv string, in chat.NewMessage) (chat.Message, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return chat.Message{}, false, errDown
	}
	if !c.isMember(tenant, sender, conv) {
		return chat.Message{}, false, chat.ErrConversationNotFound
	}
	for _, m := range c.msgs {
		if m.TenantID == tenant && m.ConversationID == conv && m.SenderID == sender && m.ClientMsgID == in.ClientMsgID {
			if m.Body != in.Body {
				return chat.Message{}, false, chat.ErrIdempotencyConflict
			}
			return m, false, nil
		}
	}
	c.nextSeq++
	m := chat.Message{ID: fmt.Sprintf("msg_%d", c.nextSeq), TenantID: tenant, ConversationID: conv, SenderID: sender,
		ClientMsgID: in.ClientMsgID, Body: in.Body, Seq: c.nextSeq, CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	c.msgs[tenant+"/"+m.ID] = m
	return m, true, nil
}

func (c *fakeChat) MarkRead(_ context.Context, tenant, user, conv string, seq int64) (chat.ReadState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return chat.ReadState{}, errDown
	}
	if !c.isMember(tenant, user, conv) {
		return chat.ReadState{}, chat.ErrConversationNotFound
	}
	const last = 10
	k := tenant + "/" + conv + "/" + user
	c.read[k] = max(c.read[k], min(seq, last))
	return chat.ReadState{ConversationID: conv, ReadSeq: c.read[k], LastSeq: last, Unread: last - c.read[k]}, nil
}

func (c *fakeChat) Members(_ context.Context, tenant, conv string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errDown
	}
	m, ok := c.members[tenant+"/"+conv]
	if !ok {
		return nil, chat.ErrConversationNotFound
	}
	return slices.Clone(m), nil
}

func (c *fakeChat) Message(_ context.Context, tenant, id string) (chat.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return chat.Message{}, errDown
	}
	m, ok := c.msgs[tenant+"/"+id]
	if !ok {
		return chat.Message{}, chat.ErrMessageNotFound
	}
	return m, nil
}

func (c *fakeChat) ConversationIDsOf(_ context.Context, tenant, user string, limit int) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errDown
	}
	var out []string
	for k, members := range c.members {
		if t, conv, _ := cut(k); t == tenant && slices.Contains(members, user) && len(out) < limit {
			out = append(out, conv)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (c *fakeChat) RequireMember(_ context.Context, tenant, user, conv string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errDown
	}
	if !c.isMember(tenant, user, conv) {
		return chat.ErrConversationNotFound
	}
	return nil
}

func cut(k string) (string, string, bool) {
	for i := range k {
		if k[i] == '/' {
			return k[:i], k[i+1:], true
		}
	}
	return k, "", false
}

// fixture is a realtime service over a real registry (the test's Redis), the fake pusher and
// the fake chat.
type fixture struct {
	svc  *realtime.Service
	reg  *redis.Connections
	push *pusher
	chat *fakeChat
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	c, err := redis.Open(backendtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	reg := c.NewConnections("caas:test:"+backendtest.Prefix(t)+":", time.Hour, clock.System{})
	f := &fixture{reg: reg, push: newPusher(), chat: newFakeChat()}
	f.svc = &realtime.Service{Registry: reg, Pusher: f.push, Chat: f.chat, Log: slog.New(slog.DiscardHandler)}
	return f
}

// connect records a connection directly in the registry, as one that finished its $connect
// long ago.
func (f *fixture) connect(t *testing.T, tenant, user, id string) {
	t.Helper()
	f.connectAt(t, tenant, user, id, time.Now().Add(-2*realtime.ConnectGrace))
}

// connectAt records a connection made at the given time.
func (f *fixture) connectAt(t *testing.T, tenant, user, id string, at time.Time) {
	t.Helper()
	if _, err := f.reg.Add(t.Context(), realtime.Connection{ID: id, TenantID: tenant, UserID: user, ConnectedAt: at}); err != nil {
		t.Fatal(err)
	}
}

// live returns the live connections of user.
func (f *fixture) live(t *testing.T, tenant, user string) []string {
	t.Helper()
	got, err := f.reg.Connections(t.Context(), tenant, []string{user})
	if err != nil {
		t.Fatal(err)
	}
	s := got[user]
	slices.Sort(s)
	return s
}
