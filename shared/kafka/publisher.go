// Package kafka publishes the platform's events to Kafka through segmentio/kafka-go. Every
// write waits for the acknowledgement of all in-sync replicas: an event the caller was told
// about is never held only in this process's memory, which a frozen or recycled Lambda
// instance would lose.
package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/chat"
)

// Timeouts of the writer. They are short because callers (a request, the sweeper) have a
// fallback: a message not published now is published later.
const (
	dialTimeout  = 2 * time.Second
	writeTimeout = 3 * time.Second
	readTimeout  = 3 * time.Second
	// batchTimeout is how long the writer waits to fill a batch. A request publishes one event
	// and waits for it, so the wait is added to its latency and must stay small.
	batchTimeout = 5 * time.Millisecond
	// maxAttempts bounds kafka-go's own retries; the sweeper retries on a longer time scale.
	maxAttempts = 3
)

// Publisher writes events to one topic. It implements chat.Publisher. A Publisher is safe for
// concurrent use; open one per cold start and Close it on shutdown.
type Publisher struct {
	w *kafkago.Writer
}

var _ chat.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher to topic on the comma-separated brokers. It does not
// connect: the first write does, so a cold start is not slowed (or failed) by Kafka.
func NewPublisher(brokers, topic string) (*Publisher, error) {
	var addrs []string
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("new kafka publisher: no brokers (KAFKA_BROKERS is empty)")
	}
	if topic == "" {
		return nil, errors.New("new kafka publisher: no topic")
	}
	return &Publisher{w: &kafkago.Writer{
		Addr:  kafkago.TCP(addrs...),
		Topic: topic,
		// Hash picks the partition from the key, so one conversation's events keep their order.
		Balancer:     &kafkago.Hash{},
		RequiredAcks: kafkago.RequireAll,
		BatchTimeout: batchTimeout,
		WriteTimeout: writeTimeout,
		ReadTimeout:  readTimeout,
		MaxAttempts:  maxAttempts,
		Transport:    &kafkago.Transport{DialTimeout: dialTimeout},
		// Where the broker allows it, the first write creates the topic, so a local platform
		// needs no topic step; a production cluster that forbids it has the topic made by Migrate.
		AllowAutoTopicCreation: true,
	}}, nil
}

// PublishMessages implements chat.Publisher: each event is a JSON value keyed by its
// conversation id. The events carry ids only, never a message body; bodies will reach Kafka
// only as ciphertext once the key service exists.
func (p *Publisher) PublishMessages(ctx context.Context, events []chat.MessageCreated) error {
	if len(events) == 0 {
		return nil
	}
	msgs := make([]kafkago.Message, len(events))
	for i, ev := range events {
		v, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode message event: %w", err)
		}
		msgs[i] = kafkago.Message{Key: []byte(ev.ConversationID), Value: v}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write %d events to %s: %w", len(msgs), p.w.Topic, err)
	}
	return nil
}

// Close flushes nothing (every write is synchronous) and releases the connections.
func (p *Publisher) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close kafka publisher: %w", err)
	}
	return nil
}
