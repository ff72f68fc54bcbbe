package template

import (
	"strings"
	"testing"
	"time"
)

// kafkaTemplate returns a template whose function Fn has one event of type typ with props,
// given as YAML lines indented under Properties.
func kafkaTemplate(typ, props string) []byte {
	var b strings.Builder
	b.WriteString("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n        Ev:\n")
	b.WriteString("          Type: " + typ + "\n          Properties:\n")
	for _, line := range strings.Split(strings.TrimSpace(props), "\n") {
		b.WriteString("            " + strings.TrimSpace(line) + "\n")
	}
	return []byte(b.String())
}

func TestKafkaEvents(t *testing.T) {
	defaultGroup := stableUUID("Fn", "Ev", "consumer-group")
	tests := []struct {
		name, typ, props string
		want             KafkaEvent
	}{
		{
			name: "defaults", typ: KafkaSelfManaged,
			props: "Topics: [orders]\nKafkaBootstrapServers: [b1:9092, b2:9092]",
			want: KafkaEvent{Topic: "orders", BatchSize: 100, BatchingWindow: 500 * time.Millisecond,
				StartingPosition: TrimHorizon, ConsumerGroupID: defaultGroup, Enabled: true},
		},
		{
			name: "self-managed, every property", typ: KafkaSelfManaged,
			props: "Topics: [orders]\nBatchSize: 10000\nStartingPosition: LATEST\nConsumerGroupId: my-group\n" +
				"Enabled: false\nMaximumBatchingWindowInSeconds: 0",
			want: KafkaEvent{Topic: "orders", BatchSize: 10000, BatchingWindow: 0,
				StartingPosition: Latest, ConsumerGroupID: "my-group", Enabled: false},
		},
		{
			name: "group in the source config", typ: KafkaSelfManaged,
			props: "Topics: [t]\nSelfManagedKafkaEventSourceConfig: {ConsumerGroupId: inner.group}",
			want: KafkaEvent{Topic: "t", BatchSize: 100, BatchingWindow: 500 * time.Millisecond,
				StartingPosition: TrimHorizon, ConsumerGroupID: "inner.group", Enabled: true},
		},
		{
			name: "msk at a timestamp", typ: KafkaMSK,
			props: "Stream: arn:aws:kafka:eu-west-1:123456789012:cluster/c/abc\nTopics: [t]\n" +
				"StartingPosition: AT_TIMESTAMP\nStartingPositionTimestamp: 1700000000.5\n" +
				"AmazonManagedKafkaEventSourceConfig: {ConsumerGroupId: g1}\nMaximumBatchingWindowInSeconds: 2",
			want: KafkaEvent{Topic: "t", BatchSize: 100, BatchingWindow: 2 * time.Second,
				StartingPosition: AtTimestamp, StartingTimestamp: time.Unix(1700000000, 5e8).UTC(),
				ConsumerGroupID: "g1", Enabled: true, EventSourceARN: "arn:aws:kafka:eu-west-1:123456789012:cluster/c/abc"},
		},
		{
			name: "msk group at the top", typ: KafkaMSK,
			props: "Stream: arn:aws:kafka:us-east-1:1:cluster/x/y\nTopics: [t]\nStartingPosition: TRIM_HORIZON\nConsumerGroupId: top",
			want: KafkaEvent{Topic: "t", BatchSize: 100, BatchingWindow: 500 * time.Millisecond,
				StartingPosition: TrimHorizon, ConsumerGroupID: "top", Enabled: true,
				EventSourceARN: "arn:aws:kafka:us-east-1:1:cluster/x/y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := Parse(kafkaTemplate(tt.typ, tt.props), nil)
			if err != nil {
				t.Fatal(err)
			}
			evs := tmpl.Functions["Fn"].KafkaEvents
			if len(evs) != 1 {
				t.Fatalf("kafka events %+v, want one", evs)
			}
			tt.want.Name, tt.want.Source = "Ev", tt.typ
			if got := evs[0]; got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestKafkaEventDefaultsAreStable(t *testing.T) {
	data := kafkaTemplate(KafkaMSK, "Stream: !Ref Cluster\nTopics: [t]\nStartingPosition: LATEST")
	data = append([]byte("Parameters:\n  Cluster: {Type: String, Default: local}\n"), data...)
	a, err := Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	ea, eb := a.Functions["Fn"].KafkaEvents[0], b.Functions["Fn"].KafkaEvents[0]
	if ea.ConsumerGroupID != eb.ConsumerGroupID || ea.EventSourceARN != eb.EventSourceARN {
		t.Errorf("derived ids differ between parses: %+v %+v", ea, eb)
	}
	if !strings.HasPrefix(ea.EventSourceARN, "arn:aws:kafka:us-east-1:000000000000:cluster/caas-local/") {
		t.Errorf("eventSourceArn %q", ea.EventSourceARN)
	}
	if ea.ConsumerGroupID == ea.EventSourceARN[strings.LastIndex(ea.EventSourceARN, "/")+1:] {
		t.Error("the group id and the cluster id are the same")
	}
}

func TestKafkaEventErrors(t *testing.T) {
	tests := []struct{ typ, props, want string }{
		{KafkaSelfManaged, "BatchSize: 5", "Topics: want exactly one topic, got 0"},
		{KafkaSelfManaged, "Topics: [a, b]", "Topics: want exactly one topic, got 2"},
		{KafkaSelfManaged, "Topics: [a]\nBatchSize: 0", "BatchSize: 0 is outside 1..10000"},
		{KafkaSelfManaged, "Topics: [a]\nBatchSize: 10001", "BatchSize: 10001 is outside 1..10000"},
		{KafkaSelfManaged, "Topics: [a]\nBatchSize: many", "BatchSize: want an integer"},
		{KafkaSelfManaged, "Topics: [a]\nStartingPosition: EARLIEST", `StartingPosition: "EARLIEST" is not`},
		{KafkaSelfManaged, "Topics: [a]\nStartingPosition: AT_TIMESTAMP", "StartingPositionTimestamp: missing"},
		{KafkaSelfManaged, "Topics: [a]\nStartingPosition: AT_TIMESTAMP\nStartingPositionTimestamp: soon", "StartingPositionTimestamp: want seconds"},
		{KafkaSelfManaged, "Topics: [a]\nStartingPositionTimestamp: 5", "only with StartingPosition AT_TIMESTAMP"},
		{KafkaSelfManaged, "Topics: [a]\nMaximumBatchingWindowInSeconds: 301", "MaximumBatchingWindowInSeconds: 301 is outside 0..300"},
		{KafkaSelfManaged, "Topics: [a]\nConsumerGroupId: has space", `ConsumerGroupId: "has space" must be`},
		{KafkaSelfManaged, "Topics: [a]\nConsumerGroupId: a\nSelfManagedKafkaEventSourceConfig: {ConsumerGroupId: b}", "differs from ConsumerGroupId"},
		{KafkaSelfManaged, "Topics: [a]\nSelfManagedKafkaEventSourceConfig: [x]", "SelfManagedKafkaEventSourceConfig: not a mapping"},
		{KafkaSelfManaged, "Topics: [a]\nEnabled: maybe", "Enabled: want true or false"},
		{KafkaMSK, "Stream: arn:aws:kafka:x\nTopics: [a]", "StartingPosition: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.props, func(t *testing.T) {
			_, err := Parse(kafkaTemplate(tt.typ, tt.props), nil)
			if err == nil {
				t.Fatalf("parsed; want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "resource Fn: Properties.Events.Ev.Properties.") {
				t.Errorf("error %q, want it to name the property and contain %q", err, tt.want)
			}
		})
	}
}
