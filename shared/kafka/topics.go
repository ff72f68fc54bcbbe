package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// DefaultTopicPartitions is the partition count of topics EnsureTopics creates. Events are
// keyed by conversation, so partitions bound the consumers that can share one topic.
const DefaultTopicPartitions = 6

// EnsureTopics creates each named topic on the cluster's controller with the given partition
// count and a replication factor of min(3, brokers). A topic that exists already is left as
// it is. The Migrate function calls it; it is idempotent.
func EnsureTopics(ctx context.Context, brokers string, partitions int, topics ...string) error {
	addr := ""
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addr = b
			break
		}
	}
	if addr == "" {
		return errors.New("ensure topics: no brokers (KAFKA_BROKERS is empty)")
	}
	d := &kafkago.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("ensure topics: dial %s: %w", addr, err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("ensure topics: find controller: %w", err)
	}
	all, err := conn.Brokers()
	if err != nil {
		return fmt.Errorf("ensure topics: list brokers: %w", err)
	}
	cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		return fmt.Errorf("ensure topics: dial controller: %w", err)
	}
	defer cc.Close()

	configs := make([]kafkago.TopicConfig, 0, len(topics))
	for _, t := range topics {
		configs = append(configs, kafkago.TopicConfig{Topic: t, NumPartitions: partitions,
			ReplicationFactor: min(3, max(1, len(all)))})
	}
	if err := cc.CreateTopics(configs...); err != nil {
		return fmt.Errorf("ensure topics %v: %w", topics, err)
	}
	return nil
}
