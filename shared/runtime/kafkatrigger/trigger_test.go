package kafkatrigger

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/segmentio/kafka-go"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/runtime/template"
)

func TestEventMatchesLambda(t *testing.T) {
	tr := &Trigger{ev: template.KafkaEvent{Source: template.KafkaSelfManaged}, opts: Options{Brokers: []string{"b1:9092", "b2:9092"}}}
	at := time.UnixMilli(1545084650987)
	payload, err := tr.event([]kafka.Message{
		{Topic: "mytopic", Partition: 0, Offset: 15, Time: at, Key: []byte("k"), Value: []byte("Hello, this is a test."),
			Headers: []kafka.Header{{Key: "headerKey", Value: []byte{118, 220, 0, 127, 128}}}},
		{Topic: "mytopic", Partition: 2, Offset: 3, Time: at, Value: []byte("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventSource":"SelfManagedKafka","bootstrapServers":"b1:9092,b2:9092","records":{` +
		`"mytopic-0":[{"topic":"mytopic","partition":0,"offset":15,"timestamp":1545084650987,"timestampType":"CREATE_TIME",` +
		`"key":"aw==","value":"SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==","headers":[{"headerKey":[118,-36,0,127,-128]}]}],` +
		`"mytopic-2":[{"topic":"mytopic","partition":2,"offset":3,"timestamp":1545084650987,"timestampType":"CREATE_TIME",` +
		`"value":"eA==","headers":[]}]}}`
	if string(payload) != want {
		t.Errorf("event\n got %s\nwant %s", payload, want)
	}
	var ev events.KafkaEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Fatal(err)
	}
	if h := ev.Records["mytopic-0"][0].Headers[0]["headerKey"]; string(h) != string([]byte{118, 220, 0, 127, 128}) {
		t.Errorf("header decodes to %v", []byte(h))
	}

	tr.ev = template.KafkaEvent{Source: template.KafkaMSK, EventSourceARN: "arn:aws:kafka:us-east-1:1:cluster/c/u"}
	payload, _ = tr.event([]kafka.Message{{Topic: "t", Value: []byte("v")}})
	if !strings.HasPrefix(string(payload), `{"eventSource":"aws:kafka","eventSourceArn":"arn:aws:kafka:us-east-1:1:cluster/c/u",`) {
		t.Errorf("MSK event %s", payload)
	}
}

func TestBackoff(t *testing.T) {
	tr := &Trigger{opts: Options{RetryMin: time.Second, RetryMax: 30 * time.Second}}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i, w := range want {
		if got := tr.backoff(i + 1); got != w*time.Second {
			t.Errorf("backoff(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestCollect(t *testing.T) {
	msgs := make(chan kafka.Message, 10)
	for i := range 7 {
		msgs <- kafka.Message{Offset: int64(i)}
	}
	tr := &Trigger{ev: template.KafkaEvent{BatchSize: 3, BatchingWindow: time.Minute}}
	batch, carry := tr.collect(context.Background(), msgs, nil)
	if len(batch) != 3 || carry != nil {
		t.Fatalf("batch of %d, carry %v; want BatchSize 3 at once", len(batch), carry)
	}

	// A window: a batch short of BatchSize goes when the window ends.
	tr.ev = template.KafkaEvent{BatchSize: 10, BatchingWindow: 50 * time.Millisecond}
	batch, _ = tr.collect(context.Background(), msgs, nil)
	if len(batch) != 4 {
		t.Fatalf("batch of %d, want the 4 waiting", len(batch))
	}

	// Records past Lambda's payload limit wait for the next batch.
	big := make([]byte, 4<<20)
	msgs <- kafka.Message{Offset: 10, Value: big}
	msgs <- kafka.Message{Offset: 11, Value: big}
	batch, carry = tr.collect(context.Background(), msgs, nil)
	if len(batch) != 1 || carry == nil || carry.Offset != 11 {
		t.Fatalf("batch of %d, carry %v; want one record and the next carried", len(batch), carry)
	}
	batch, _ = tr.collect(context.Background(), msgs, carry)
	if len(batch) != 1 || batch[0].Offset != 11 {
		t.Fatalf("the carried record was not first: %v", batch)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if batch, _ := tr.collect(ctx, msgs, nil); batch != nil {
		t.Fatalf("collected %d records after the end", len(batch))
	}
}

// A trigger on the test Kafka with an in-process function: it starts, delivers, retries the
// same batch after a failure and stops without leaving a member behind.
func TestTriggerOnKafka(t *testing.T) {
	brokers := strings.Split(backendtest.KafkaBrokers(t), ",")
	prefix := strings.TrimSuffix(backendtest.Prefix(t), "_")
	ev := template.KafkaEvent{Name: "Ev", Source: template.KafkaSelfManaged, Topic: prefix + ".unit",
		BatchSize: 100, BatchingWindow: 200 * time.Millisecond, StartingPosition: template.Latest,
		ConsumerGroupID: prefix + "-unit", Enabled: true}

	var mu sync.Mutex
	var payloads []string
	calls := 0
	invoke := func(ctx context.Context, fn string, payload []byte) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		payloads = append(payloads, string(payload))
		if calls == 1 {
			return errors.New("fail once")
		}
		return nil
	}
	tr, err := Start(context.Background(), "Fn", ev, Options{Brokers: brokers, Invoke: invoke, RetryMin: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: ev.Topic, BatchTimeout: 5 * time.Millisecond}
	if err := w.WriteMessages(context.Background(), kafka.Message{Value: []byte("after-start")}); err != nil {
		t.Fatal(err)
	}
	w.Close()

	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := calls
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d invocations, want a failure and a retry", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr.Stop(ctx)
	select {
	case <-tr.Done():
	default:
		t.Fatal("Stop returned before the trigger stopped")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(payloads) != 2 || payloads[0] != payloads[1] || !strings.Contains(payloads[0], `"value":"YWZ0ZXItc3RhcnQ="`) {
		t.Errorf("payloads %q; want the record produced after Start, twice alike", payloads)
	}
}
