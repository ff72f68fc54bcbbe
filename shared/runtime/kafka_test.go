package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/segmentio/kafka-go"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/runtime/kafkatrigger"
	"caas.dev/shared/runtime/lambdaapi"
)

var (
	kafkaFnOnce sync.Once
	kafkaFnErr  error
)

// buildKafkaFunction builds testdata/fn/kafka into binDir under the name of each function of
// testdata/kafka*.yaml.
func buildKafkaFunction(t testing.TB) {
	t.Helper()
	kafkaFnOnce.Do(func() {
		out := filepath.Join(binDir, "kafka-fn")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, "./testdata/fn/kafka")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			kafkaFnErr = fmt.Errorf("build kafka test function: %v\n%s", err, b)
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			kafkaFnErr = err
			return
		}
		for _, name := range []string{"kafka-fail-first", "kafka-recorder", "kafka-msk", "kafka-bench"} {
			if err := os.WriteFile(filepath.Join(binDir, name), bin, 0o755); err != nil {
				kafkaFnErr = err
				return
			}
		}
	})
	if kafkaFnErr != nil {
		t.Fatal(kafkaFnErr)
	}
}

// kafkaRun is a `caas run` of a Kafka template, on the test binary's Kafka.
type kafkaRun struct {
	brokers string
	prefix  string
	dir     string // where the kafka function records its events
	client  *kafka.Client
	host    *lambdaapi.Host
	cancel  context.CancelFunc
	done    chan error
}

// startKafkaRun creates the topics of testdata/kafka.yaml (three partitions each), lets before
// produce to them, then starts Run with the template and returns once it is ready.
func startKafkaRun(t testing.TB, templateText string, env map[string]string, before func(r *kafkaRun)) *kafkaRun {
	t.Helper()
	buildKafkaFunction(t)
	r := &kafkaRun{brokers: backendtest.KafkaBrokers(t), prefix: backendtest.Prefix(t), dir: t.TempDir()}
	r.client = &kafka.Client{Addr: kafka.TCP(strings.Split(r.brokers, ",")...), Timeout: 10 * time.Second}
	var topics []kafka.TopicConfig
	for _, s := range []string{"retry", "batch", "latest", "off", "msk", "bench"} {
		topics = append(topics, kafka.TopicConfig{Topic: r.topic(s), NumPartitions: 3, ReplicationFactor: 1})
	}
	if _, err := r.client.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: topics}); err != nil {
		t.Fatalf("create topics: %v", err)
	}
	if before != nil {
		before(r)
	}

	text := strings.NewReplacer("__PREFIX__", strings.TrimSuffix(r.prefix, "_"), "__DIR__", r.dir).Replace(templateText)
	tmplPath := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(tmplPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	logOut := io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	vars := map[string]string{"CAAS_ADMIN_KEY": "test-admin-key", "KAFKA_BROKERS": r.brokers}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	ready := make(chan string, 1)
	cfg := Config{
		Template: tmplPath, StateDir: t.TempDir(), NoBuild: true, BinDir: binDir, Addr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(logOut, nil)), FunctionLog: logOut, Stdout: logOut,
		Getenv:  func(k string) string { return vars[k] },
		OnReady: func(url string) { ready <- url },
		OnHost:  func(h *lambdaapi.Host) { r.host = h },
	}
	go func() { r.done <- Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("runtime did not start: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("runtime did not start in time")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// topic returns the name the template gives the topic with suffix s.
func (r *kafkaRun) topic(s string) string { return strings.TrimSuffix(r.prefix, "_") + "." + s }

// stop shuts the run down once and fails the test if that fails.
func (r *kafkaRun) stop(t testing.TB) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("runtime shutdown: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Error("runtime did not shut down in time")
	}
}

// produce writes messages to topic, spread over its partitions, and waits for the broker.
func (r *kafkaRun) produce(t testing.TB, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(strings.Split(r.brokers, ",")...), Topic: topic, Balancer: &kafka.RoundRobin{},
		BatchSize: max(len(msgs), 1), BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll,
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// committed returns the group's committed offset per partition of topic; -1 means none.
func (r *kafkaRun) committed(t testing.TB, group, topic string) map[int]int64 {
	t.Helper()
	res, err := r.client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{
		GroupID: group, Topics: map[string][]int{topic: {0, 1, 2}},
	})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		t.Fatalf("offset fetch %s: %v", group, err)
	}
	out := map[int]int64{}
	for _, p := range res.Topics[topic] {
		if p.Error != nil {
			t.Fatalf("offset fetch %s partition %d: %v", group, p.Partition, p.Error)
		}
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// received is one event the kafka test function recorded, raw and decoded.
type received struct {
	raw []byte
	ev  events.KafkaEvent
}

// records returns the records of the event, in the order of its partitions' keys.
func (e received) records() []events.KafkaRecord {
	var out []events.KafkaRecord
	for _, recs := range e.ev.Records {
		out = append(out, recs...)
	}
	return out
}

// events returns what the function named name (KAFKA_FN_NAME) has recorded so far.
func (r *kafkaRun) events(t testing.TB, name string) []received {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.dir, name+".jsonl"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []received
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ev events.KafkaEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("recorded event does not decode into events.KafkaEvent: %v: %s", err, sc.Bytes())
		}
		out = append(out, received{raw: append([]byte(nil), sc.Bytes()...), ev: ev})
	}
	return out
}

// waitFor polls cond until it holds, or fails the test after a generous deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watchDeliveries routes the settled attempts of every Kafka trigger to a channel for the
// duration of the test.
func watchDeliveries(t testing.TB) <-chan kafkatrigger.Delivery {
	ch := make(chan kafkatrigger.Delivery, 1024)
	onKafkaDelivery = func(d kafkatrigger.Delivery) { ch <- d }
	t.Cleanup(func() { onKafkaDelivery = nil })
	return ch
}

func nextDelivery(t testing.TB, ch <-chan kafkatrigger.Delivery) kafkatrigger.Delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(60 * time.Second):
		t.Fatal("no Kafka delivery")
		return kafkatrigger.Delivery{}
	}
}

func readTemplate(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kafka.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
