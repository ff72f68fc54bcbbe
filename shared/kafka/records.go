package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// RecordWriter writes keyed values to one topic with the acknowledgement of all in-sync
// replicas, trying once: its caller (the request recorder) has a fallback and must not keep a
// response waiting. It is safe for concurrent use.
type RecordWriter struct {
	w *kafkago.Writer
}

// NewRecordWriter returns a writer to topic on the comma-separated brokers, each write bounded
// by timeout (dial, write and acknowledgement). It does not connect until the first write.
func NewRecordWriter(brokers, topic string, timeout time.Duration) (*RecordWriter, error) {
	var addrs []string
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("new kafka record writer: no brokers (KAFKA_BROKERS is empty)")
	}
	if topic == "" {
		return nil, errors.New("new kafka record writer: no topic")
	}
	return &RecordWriter{w: &kafkago.Writer{
		Addr:                   kafkago.TCP(addrs...),
		Topic:                  topic,
		Balancer:               &kafkago.Hash{},
		RequiredAcks:           kafkago.RequireAll,
		BatchTimeout:           time.Millisecond,
		WriteTimeout:           timeout,
		ReadTimeout:            timeout,
		MaxAttempts:            1,
		Transport:              &kafkago.Transport{DialTimeout: timeout},
		AllowAutoTopicCreation: true,
	}}, nil
}

// Topic returns the topic written to.
func (r *RecordWriter) Topic() string { return r.w.Topic }

// Write writes one value under key and waits for its acknowledgement or ctx's end.
func (r *RecordWriter) Write(ctx context.Context, key string, value []byte) error {
	if err := r.w.WriteMessages(ctx, kafkago.Message{Key: []byte(key), Value: value}); err != nil {
		return fmt.Errorf("write to %s: %w", r.w.Topic, err)
	}
	return nil
}

// Close releases the writer's connections.
func (r *RecordWriter) Close() error {
	if err := r.w.Close(); err != nil {
		return fmt.Errorf("close kafka record writer: %w", err)
	}
	return nil
}
