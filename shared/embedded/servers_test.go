package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The platform talks to Kafka through segmentio/kafka-go, so kfake must serve what its Writer
// and consumer-group Reader send.
func TestKfakeServesKafkaGo(t *testing.T) {
	const topic = "caas.messages"
	b := start(t, Options{Kafka: true, Topics: []string{topic}})
	brokers := strings.Split(b.KafkaBrokers, ",")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatalf("read partitions: %v", err)
	}
	if len(parts) != TopicPartitions {
		t.Fatalf("seeded topic has %d partitions, want %d", len(parts), TopicPartitions)
	}

	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond,
	}
	defer w.Close()
	const keys, perKey = 5, 6
	var msgs []kafka.Message
	for i := range perKey {
		for k := range keys {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "cnv_%d", k), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("write with RequireAll: %v", err)
	}

	got := readGroup(ctx, t, brokers, topic, "fanout", len(msgs))
	for k := range keys {
		key := fmt.Sprintf("cnv_%d", k)
		want := []string{"0", "1", "2", "3", "4", "5"}
		if strings.Join(got[key], ",") != strings.Join(want, ",") {
			t.Errorf("key %s read %v, want %v in order", key, got[key], want)
		}
	}

	// Committed offsets hold: the group's next member reads only what came after.
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("cnv_0"), Value: []byte("late")}); err != nil {
		t.Fatalf("write late message: %v", err)
	}
	again := readGroup(ctx, t, brokers, topic, "fanout", 1)
	if v := again["cnv_0"]; len(v) != 1 || v[0] != "late" {
		t.Errorf("after commit the group read %v, want only the late message", again)
	}
}

// readGroup reads n messages as a member of group, commits each, and returns the values by key.
func readGroup(ctx context.Context, t *testing.T, brokers []string, topic, group string, n int) map[string][]string {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:        brokers,
		GroupID:        group,
		Topic:          topic,
		MinBytes:       1,
		MaxBytes:       1 << 20,
		MaxWait:        100 * time.Millisecond,
		StartOffset:    kafka.FirstOffset,
		CommitInterval: 0, // synchronous commits
	})
	defer r.Close()

	got := map[string][]string{}
	for range n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("fetch in group %s: %v", group, err)
		}
		got[string(m.Key)] = append(got[string(m.Key)], string(m.Value))
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatalf("commit in group %s: %v", group, err)
		}
	}
	return got
}
