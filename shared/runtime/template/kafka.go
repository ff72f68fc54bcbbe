package template

import (
	"crypto/sha256"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kafka event source types of AWS::Serverless::Function.
const (
	KafkaSelfManaged = "SelfManagedKafka"
	KafkaMSK         = "MSK"
)

// Starting positions of a Kafka event source: where a consumer group with no committed offset
// begins.
const (
	TrimHorizon = "TRIM_HORIZON"
	Latest      = "LATEST"
	AtTimestamp = "AT_TIMESTAMP"
)

// Limits and defaults of a Kafka event source mapping, as Lambda applies them.
const (
	DefaultKafkaBatchSize      = 100
	MaxKafkaBatchSize          = 10000
	DefaultKafkaBatchingWindow = 500 * time.Millisecond
	maxBatchingWindowSeconds   = 300
)

// consumerGroupIDPattern is the pattern Lambda accepts for a Kafka consumer group id.
var consumerGroupIDPattern = regexp.MustCompile(`^[a-zA-Z0-9\-/*:_+=.@]{1,200}$`)

// KafkaEvent is a SelfManagedKafka or MSK event source: a consumer group that delivers the
// records of one topic to the function in batches. The brokers the template names
// (KafkaBootstrapServers, Stream) are not dialled locally: the runtime consumes from the
// brokers it hands the functions as KAFKA_BROKERS.
type KafkaEvent struct {
	Name   string
	Source string // KafkaSelfManaged or KafkaMSK
	Topic  string
	// BatchSize is the most records one invocation receives, 1..MaxKafkaBatchSize.
	BatchSize int
	// BatchingWindow is how long a batch may gather records after its first one.
	BatchingWindow time.Duration
	// StartingPosition is TrimHorizon, Latest or AtTimestamp; it applies only while the
	// consumer group has no committed offset for a partition.
	StartingPosition string
	// StartingTimestamp is StartingPositionTimestamp, set with AtTimestamp.
	StartingTimestamp time.Time
	// ConsumerGroupID is the template's, else an id derived from the function and the event,
	// stable across runs as the UUID of a deployed event source mapping is.
	ConsumerGroupID string
	Enabled         bool
	// EventSourceARN is the eventSourceArn of MSK events (the cluster's ARN); empty for
	// SelfManagedKafka, whose events carry none.
	EventSourceARN string
}

// parseKafkaEvent reads the properties of a SelfManagedKafka or MSK event of function fn.
func parseKafkaEvent(fn, name, typ string, props map[string]any) (KafkaEvent, error) {
	ev := KafkaEvent{Name: name, Source: typ, Enabled: true}

	topics, err := optStrings(props, "Topics")
	if err != nil {
		return ev, fmt.Errorf("Properties.%w", err)
	}
	if len(topics) != 1 || topics[0] == "" {
		return ev, fmt.Errorf("Properties.Topics: want exactly one topic, got %d", len(topics))
	}
	ev.Topic = topics[0]

	if ev.BatchSize, err = optInt(props, "BatchSize", DefaultKafkaBatchSize); err != nil {
		return ev, fmt.Errorf("Properties.%w", err)
	}
	if ev.BatchSize < 1 || ev.BatchSize > MaxKafkaBatchSize {
		return ev, fmt.Errorf("Properties.BatchSize: %d is outside 1..%d", ev.BatchSize, MaxKafkaBatchSize)
	}

	ev.BatchingWindow = DefaultKafkaBatchingWindow
	if _, set := props["MaximumBatchingWindowInSeconds"]; set {
		secs, err := optInt(props, "MaximumBatchingWindowInSeconds", 0)
		if err != nil {
			return ev, fmt.Errorf("Properties.%w", err)
		}
		if secs < 0 || secs > maxBatchingWindowSeconds {
			return ev, fmt.Errorf("Properties.MaximumBatchingWindowInSeconds: %d is outside 0..%d", secs, maxBatchingWindowSeconds)
		}
		ev.BatchingWindow = time.Duration(secs) * time.Second
	}

	if err := parseStartingPosition(&ev, props); err != nil {
		return ev, err
	}
	if err := parseConsumerGroupID(&ev, fn, props); err != nil {
		return ev, err
	}
	if err := parseEnabled(&ev, props); err != nil {
		return ev, err
	}

	if typ == KafkaMSK {
		if ev.EventSourceARN, err = optString(props, "Stream"); err != nil {
			return ev, fmt.Errorf("Properties.%w", err)
		}
		if !strings.HasPrefix(ev.EventSourceARN, "arn:") {
			// A cluster the template does not name as an ARN gets one of the local account.
			ev.EventSourceARN = fmt.Sprintf("arn:aws:kafka:%s:%s:cluster/%s-local/%s",
				Region, AccountID, StackName, stableUUID(fn, name, "cluster"))
		}
	}
	return ev, nil
}

func parseStartingPosition(ev *KafkaEvent, props map[string]any) error {
	pos, err := optString(props, "StartingPosition")
	if err != nil {
		return fmt.Errorf("Properties.%w", err)
	}
	switch pos {
	case "":
		if ev.Source == KafkaMSK {
			return fmt.Errorf("Properties.StartingPosition: missing (TRIM_HORIZON, LATEST or AT_TIMESTAMP)")
		}
		pos = TrimHorizon
	case TrimHorizon, Latest, AtTimestamp:
	default:
		return fmt.Errorf("Properties.StartingPosition: %q is not TRIM_HORIZON, LATEST or AT_TIMESTAMP", pos)
	}
	ev.StartingPosition = pos

	raw, set := props["StartingPositionTimestamp"]
	if pos != AtTimestamp {
		if set && raw != nil {
			return fmt.Errorf("Properties.StartingPositionTimestamp: only with StartingPosition AT_TIMESTAMP")
		}
		return nil
	}
	if !set || raw == nil {
		return fmt.Errorf("Properties.StartingPositionTimestamp: missing (seconds since the epoch) with AT_TIMESTAMP")
	}
	secs, err := strconv.ParseFloat(scalarString(raw), 64)
	if err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return fmt.Errorf("Properties.StartingPositionTimestamp: want seconds since the epoch, got %v", raw)
	}
	whole, frac := math.Modf(secs)
	ev.StartingTimestamp = time.Unix(int64(whole), int64(frac*1e9)).UTC()
	return nil
}

// parseConsumerGroupID reads the group id where SAM takes it for each source type: the
// top-level ConsumerGroupId, or the one inside the source's own EventSourceConfig.
func parseConsumerGroupID(ev *KafkaEvent, fn string, props map[string]any) error {
	configKey := "SelfManagedKafkaEventSourceConfig"
	if ev.Source == KafkaMSK {
		configKey = "AmazonManagedKafkaEventSourceConfig"
	}
	id, err := optString(props, "ConsumerGroupId")
	if err != nil {
		return fmt.Errorf("Properties.%w", err)
	}
	if raw, ok := props[configKey]; ok && raw != nil {
		cfg, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("Properties.%s: not a mapping", configKey)
		}
		inner, err := optString(cfg, "ConsumerGroupId")
		if err != nil {
			return fmt.Errorf("Properties.%s.%w", configKey, err)
		}
		if inner != "" && id != "" && inner != id {
			return fmt.Errorf("Properties.%s.ConsumerGroupId: %q differs from ConsumerGroupId %q", configKey, inner, id)
		}
		if inner != "" {
			id = inner
		}
	}
	if id == "" {
		id = stableUUID(fn, ev.Name, "consumer-group")
	}
	if !consumerGroupIDPattern.MatchString(id) {
		return fmt.Errorf("Properties.ConsumerGroupId: %q must be 1..200 characters of a-z A-Z 0-9 - / * : _ + = . @", id)
	}
	ev.ConsumerGroupID = id
	return nil
}

func parseEnabled(ev *KafkaEvent, props map[string]any) error {
	switch v := props["Enabled"].(type) {
	case nil:
	case bool:
		ev.Enabled = v
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("Properties.Enabled: want true or false, got %q", v)
		}
		ev.Enabled = b
	default:
		return fmt.Errorf("Properties.Enabled: want true or false, got %v", v)
	}
	return nil
}

// stableUUID returns a UUID-shaped id derived from the stack, the function, the event and
// what the id is for, so it is the same on every run of the same template.
func stableUUID(fn, event, purpose string) string {
	sum := sha256.Sum256([]byte(StackName + "/" + fn + "/" + event + "/" + purpose))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50 // version 5 layout: name-based
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
