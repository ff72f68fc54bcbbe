package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/chat"
	"caas.dev/shared/ids"
)

// messagesTopic is the topic the functions publish to (CAAS_MESSAGES_TOPIC).
const messagesTopic = "caas.messages"

func TestPublishMessagesReadBack(t *testing.T) {
	brokers := backendtest.KafkaBrokers(t)
	p, err := NewPublisher(brokers, messagesTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	convs := []string{ids.Random{}.New(ids.Conversation), ids.Random{}.New(ids.Conversation)}
	var sent []chat.MessageCreated
	for seq := int64(1); seq <= 3; seq++ {
		for _, c := range convs {
			sent = append(sent, chat.MessageCreated{
				Type: chat.EventMessageCreated, TenantID: "ten_a", ConversationID: c,
				MessageID: ids.Random{}.New(ids.Message), Seq: seq, SenderID: "usr_x",
				CreatedAt: "2025-01-02T03:04:05.678Z",
			})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.PublishMessages(ctx, sent); err != nil {
		t.Fatalf("PublishMessages: %v", err)
	}

	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{brokers}, Topic: messagesTopic,
		GroupID: fmt.Sprintf("publisher-test-%d", time.Now().UnixNano()), StartOffset: kafkago.FirstOffset,
		MaxWait: 100 * time.Millisecond,
	})
	defer r.Close()
	want := map[string]chat.MessageCreated{}
	for _, ev := range sent {
		want[ev.MessageID] = ev
	}
	partitionOf := map[string]int{}
	lastSeq := map[string]int64{}
	for len(want) > 0 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read back (%d events still missing): %v", len(want), err)
		}
		var got chat.MessageCreated
		if err := json.Unmarshal(m.Value, &got); err != nil {
			t.Fatalf("event is not JSON: %v", err)
		}
		exp, ours := want[got.MessageID]
		if !ours {
			continue // another test's event on the shared topic
		}
		delete(want, got.MessageID)
		if got != exp {
			t.Errorf("event = %+v, want %+v", got, exp)
		}
		if string(m.Key) != got.ConversationID {
			t.Errorf("key = %q, want the conversation id %q", m.Key, got.ConversationID)
		}
		if p, seen := partitionOf[got.ConversationID]; seen && p != m.Partition {
			t.Errorf("conversation %s on partitions %d and %d: the key must pick the partition", got.ConversationID, p, m.Partition)
		}
		partitionOf[got.ConversationID] = m.Partition
		if got.Seq <= lastSeq[got.ConversationID] {
			t.Errorf("conversation %s: seq %d read after %d", got.ConversationID, got.Seq, lastSeq[got.ConversationID])
		}
		lastSeq[got.ConversationID] = got.Seq
		var fields map[string]any
		_ = json.Unmarshal(m.Value, &fields)
		if _, has := fields["body"]; has {
			t.Error("the event carries a body")
		}
	}
}

func TestPublishMessagesBrokerDown(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	p, err := NewPublisher(addr, messagesTopic)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = p.PublishMessages(ctx, []chat.MessageCreated{{Type: chat.EventMessageCreated, ConversationID: "cnv_x"}})
	if err == nil {
		t.Fatal("PublishMessages to a dead broker succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("PublishMessages took %v to fail, want it bounded by the context", d)
	}
}

func TestNewPublisherConfig(t *testing.T) {
	for _, tt := range []struct{ brokers, topic string }{{"", "t"}, {" , ", "t"}, {"127.0.0.1:9092", ""}} {
		if _, err := NewPublisher(tt.brokers, tt.topic); err == nil {
			t.Errorf("NewPublisher(%q, %q) succeeded", tt.brokers, tt.topic)
		}
	}
}
