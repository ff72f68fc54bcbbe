package kafka_test

import (
	"net"
	"testing"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"caas.dev/shared/kafka"
)

func TestEnsureTopics(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()[0]
	for range 2 { // the second run finds the topic and succeeds
		if err := kafka.EnsureTopics(t.Context(), brokers, 3, "caas.topics-test"); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
	}
	conn, err := kafkago.DialContext(t.Context(), "tcp", brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions("caas.topics-test")
	if err != nil || len(parts) != 3 {
		t.Fatalf("topic has %d partitions, %v; want 3", len(parts), err)
	}

	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if err := kafka.EnsureTopics(t.Context(), closed, 3, "caas.topics-test"); err == nil {
		t.Fatal("EnsureTopics against a closed port succeeded")
	}
}
