package kafkatrigger

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/segmentio/kafka-go"

	"caas.dev/shared/runtime/template"
)

// Event sources Lambda names in a Kafka event.
const (
	sourceSelfManaged = "SelfManagedKafka"
	sourceMSK         = "aws:kafka"
)

// kafkaEvent is the event Lambda sends for a Kafka batch. It decodes into events.KafkaEvent;
// it is declared here because Lambda leaves eventSourceArn out for self-managed clusters,
// where events.KafkaEvent would send an empty one.
type kafkaEvent struct {
	EventSource      string                   `json:"eventSource"`
	EventSourceARN   string                   `json:"eventSourceArn,omitempty"`
	BootstrapServers string                   `json:"bootstrapServers"`
	Records          map[string][]kafkaRecord `json:"records"`
}

// kafkaRecord is one record: key and value base64, headers as lists of signed byte values
// (Lambda's Java heritage), which events.JSONNumberBytes writes.
type kafkaRecord struct {
	Topic         string                              `json:"topic"`
	Partition     int                                 `json:"partition"`
	Offset        int64                               `json:"offset"`
	Timestamp     int64                               `json:"timestamp"`
	TimestampType string                              `json:"timestampType"`
	Key           string                              `json:"key,omitempty"`
	Value         string                              `json:"value,omitempty"`
	Headers       []map[string]events.JSONNumberBytes `json:"headers"`
}

// event encodes batch as the events.KafkaEvent of this trigger, records grouped under
// "topic-partition" in the order read.
func (t *Trigger) event(batch []kafka.Message) ([]byte, error) {
	ev := kafkaEvent{
		EventSource:      sourceSelfManaged,
		BootstrapServers: strings.Join(t.opts.Brokers, ","),
		Records:          map[string][]kafkaRecord{},
	}
	if t.ev.Source == template.KafkaMSK {
		ev.EventSource, ev.EventSourceARN = sourceMSK, t.ev.EventSourceARN
	}
	for _, m := range batch {
		key := m.Topic + "-" + strconv.Itoa(m.Partition)
		ev.Records[key] = append(ev.Records[key], record(m))
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode kafka event: %w", err)
	}
	return b, nil
}

func record(m kafka.Message) kafkaRecord {
	r := kafkaRecord{
		Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
		Timestamp: m.Time.UnixMilli(), TimestampType: "CREATE_TIME",
		Headers: make([]map[string]events.JSONNumberBytes, 0, len(m.Headers)),
	}
	if m.Key != nil {
		r.Key = base64.StdEncoding.EncodeToString(m.Key)
	}
	if m.Value != nil {
		r.Value = base64.StdEncoding.EncodeToString(m.Value)
	}
	for _, h := range m.Headers {
		r.Headers = append(r.Headers, map[string]events.JSONNumberBytes{h.Key: h.Value})
	}
	return r
}

// recordSize is roughly what m adds to an event: base64 grows key and value by a third, and a
// header byte is written as up to five characters.
func recordSize(m kafka.Message) int {
	n := 160 + len(m.Topic) + (len(m.Key)+len(m.Value))*4/3
	for _, h := range m.Headers {
		n += len(h.Key) + 8 + 5*len(h.Value)
	}
	return n
}
