package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// messagesTopic is CAAS_MESSAGES_TOPIC in template.yaml.
const messagesTopic = "caas.messages"

// eventDeadline bounds the wait for every expected event to be read back.
const eventDeadline = 30 * time.Second

// TestMessageEvents reads the message topic back. Its file sorts after the other tests' files,
// so it runs after them and checks the events of every message they sent as well as its own.
func TestMessageEvents(t *testing.T) {
	w := getWorld(t)
	c := api()
	brokers := kafkaBrokers(t)

	convID := createConversation(t, c, w.alice, "group", "Events "+suffix, w.bob.id)
	for i := range 3 {
		mustSend(t, c, w.alice, convID, fmt.Sprintf("ev-%d", i), fmt.Sprintf("event body %d %s", i, marker()))
	}
	sentMu.Lock()
	want := make(map[string]sentMessage, len(sent))
	for id, m := range sent {
		want[id] = m
	}
	sentMu.Unlock()

	events, err := readEvents(brokers, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read %d events for %d messages sent", len(events), len(want))

	byID := map[string][]kafka.Message{}
	for _, e := range events {
		var v struct {
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(e.Value, &v) == nil && v.MessageID != "" {
			byID[v.MessageID] = append(byID[v.MessageID], e)
		}
	}
	for id, m := range want {
		got := byID[id]
		if len(got) == 0 {
			t.Errorf("no event with message_id %s on %s", id, messagesTopic)
			continue
		}
		for _, e := range got {
			if string(e.Key) != m.conversationID {
				t.Errorf("event of %s has key %q, want the conversation id %s", id, e.Key, m.conversationID)
			}
			var v map[string]any
			json.Unmarshal(e.Value, &v)
			if v["type"] != "message.created" || v["conversation_id"] != m.conversationID {
				t.Errorf("event of %s: want type message.created and conversation_id %s: %s", id, m.conversationID, e.Value)
			}
		}
	}
	for _, e := range events {
		for _, m := range want {
			if bytes.Contains(e.Value, []byte(m.body)) || containsMarker(e.Value, m.body) {
				t.Errorf("an event carries the plaintext body of %s: %s", m.id, e.Value)
			}
		}
	}
}

// kafkaBrokers returns the brokers the runtime uses.
func kafkaBrokers(t *testing.T) []string {
	t.Helper()
	return strings.Split(backendsOf(t, the).KafkaBrokers, ",")
}

// readEvents reads every partition of the topic from its start until an event has been seen for
// each wanted message, or eventDeadline passes, and returns what it read.
func readEvents(brokers []string, want map[string]sentMessage) ([]kafka.Message, error) {
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("dial kafka %s: %w", brokers[0], err)
	}
	partitions, err := conn.ReadPartitions(messagesTopic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("read partitions of %s: %w", messagesTopic, err)
	}
	if len(partitions) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", messagesTopic)
	}

	ctx, cancel := context.WithTimeout(context.Background(), eventDeadline)
	defer cancel()
	var (
		mu     sync.Mutex
		events []kafka.Message
		seen   = map[string]bool{}
		wg     sync.WaitGroup
	)
	for _, p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:   brokers,
			Topic:     messagesTopic,
			Partition: p.ID,
			MaxWait:   200 * time.Millisecond,
		})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return nil, fmt.Errorf("seek partition %d: %w", p.ID, err)
		}
		wg.Go(func() {
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				var v struct {
					MessageID string `json:"message_id"`
				}
				json.Unmarshal(m.Value, &v)
				mu.Lock()
				events = append(events, m)
				if _, ok := want[v.MessageID]; ok {
					seen[v.MessageID] = true
				}
				done := len(seen) == len(want)
				mu.Unlock()
				if done {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	return events, nil
}

// containsMarker reports whether the value holds the body's unique marker, which catches a body
// that reached the event re-encoded (escaped JSON) rather than byte for byte.
func containsMarker(value []byte, body string) bool {
	i := strings.Index(body, "mk")
	if i < 0 || len(body) < i+18 {
		return false
	}
	return bytes.Contains(value, []byte(body[i:i+18]))
}
