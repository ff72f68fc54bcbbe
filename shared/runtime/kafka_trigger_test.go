package runtime

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// The test function fails the first delivery of every batch: the trigger must invoke the same
// records again, and commit them only once the function succeeded.
func TestKafkaTriggerRetriesTheSameBatch(t *testing.T) {
	deliveries := watchDeliveries(t)
	r := startKafkaRun(t, readTemplate(t), nil, func(r *kafkaRun) {
		var msgs []kafka.Message
		for i := range 4 {
			msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
		}
		r.produce(t, r.topic("retry"), msgs...)
	})
	group, topic := strings.TrimSuffix(r.prefix, "_")+"-retry", r.topic("retry")

	want := map[int]int64{0: -1, 1: -1, 2: -1} // nothing committed: TRIM_HORIZON starts at the log start
	delivered, failures := 0, 0
	for delivered < 4 {
		d := nextDelivery(t, deliveries)
		if d.Function != "KafkaFailFirst" {
			continue
		}
		evs := r.events(t, "fail-first")
		last := evs[len(evs)-1]
		if d.Err != nil {
			failures++
			if d.Attempt != 1 {
				t.Errorf("attempt %d failed; the function fails only the first", d.Attempt)
			}
			if got := r.committed(t, group, topic); !maps.Equal(got, want) {
				t.Fatalf("after a failed attempt the group committed %v; want %v, unchanged", got, want)
			}
			continue
		}
		if d.Attempt != 2 || len(evs) < 2 {
			t.Fatalf("a batch succeeded at attempt %d after %d deliveries; want the second attempt", d.Attempt, len(evs))
		}
		if a, b := recordsJSON(t, evs[len(evs)-2]), recordsJSON(t, last); a != b {
			t.Fatalf("the retry carried other records:\nfirst %s\nretry %s", a, b)
		}
		for _, rec := range last.records() {
			want[int(rec.Partition)] = max(want[int(rec.Partition)], rec.Offset+1)
			delivered++
		}
		if got := r.committed(t, group, topic); !maps.Equal(got, want) {
			t.Fatalf("after success the group committed %v, want %v", got, want)
		}
	}
	if delivered != 4 || failures == 0 {
		t.Errorf("delivered %d records with %d failures; want 4 records, each batch failed once", delivered, failures)
	}
}

func recordsJSON(t *testing.T, e received) string {
	t.Helper()
	b, err := json.Marshal(e.ev.Records) // map keys sorted: comparable
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKafkaTriggerDeliversBatches(t *testing.T) {
	start := time.Now()
	var batchMsgs []kafka.Message
	for i := range 12 {
		m := kafka.Message{Key: fmt.Appendf(nil, "key-%d", i), Value: fmt.Appendf(nil, "value-%d", i),
			Headers: []kafka.Header{{Key: "trace", Value: []byte{0, byte(i), 200, 255}}}}
		if i == 0 {
			m.Key = nil // Lambda leaves a null key out
		}
		batchMsgs = append(batchMsgs, m)
	}
	r := startKafkaRun(t, readTemplate(t), nil, func(r *kafkaRun) {
		r.produce(t, r.topic("batch"), batchMsgs...)
		r.produce(t, r.topic("latest"), kafka.Message{Value: []byte("old-0")}, kafka.Message{Value: []byte("old-1")})
	})
	pre := strings.TrimSuffix(r.prefix, "_")

	// Joined before ready: LATEST is already resolved to the end of the log and committed.
	latestStart := r.committed(t, pre+"-latest", r.topic("latest"))
	if sum := latestStart[0] + latestStart[1] + latestStart[2]; sum != 2 {
		t.Errorf("LATEST group committed %v at start, want the end of the two old records", latestStart)
	}
	if n := groupMembers(t, r, pre+"-batch"); n != 1 {
		t.Errorf("group %s has %d members once ready, want 1", pre+"-batch", n)
	}
	r.produce(t, r.topic("latest"), kafka.Message{Value: []byte("new-0")}, kafka.Message{Value: []byte("new-1")})
	r.produce(t, r.topic("msk"), kafka.Message{Key: []byte("m"), Value: []byte("msk-0")})

	byTopic := func() map[string][]received {
		out := map[string][]received{}
		for _, e := range append(r.events(t, "recorder"), r.events(t, "msk")...) {
			if recs := e.records(); len(recs) > 0 { // an event holds the records of one topic
				out[recs[0].Topic] = append(out[recs[0].Topic], e)
			}
		}
		return out
	}
	count := func(evs []received) int {
		n := 0
		for _, e := range evs {
			n += len(e.records())
		}
		return n
	}
	waitFor(t, "every record", func() bool {
		got := byTopic()
		return count(got[r.topic("batch")]) >= 12 && count(got[r.topic("latest")]) >= 2 && count(got[r.topic("msk")]) >= 1
	})
	got := byTopic()

	// Batches of at most BatchSize, from several partitions, each record once.
	biggest, partitions, seen := 0, map[int64]bool{}, map[string]bool{}
	for _, e := range got[r.topic("batch")] {
		n := len(e.records())
		if n > 5 {
			t.Errorf("a batch of %d records; BatchSize is 5", n)
		}
		biggest = max(biggest, n)
		wantEventShape(t, e, r.brokers)
		for _, rec := range e.records() {
			partitions[rec.Partition] = true
			v, _ := base64.StdEncoding.DecodeString(rec.Value)
			if seen[string(v)] {
				t.Errorf("record %s delivered twice without a failure", v)
			}
			seen[string(v)] = true
			if rec.Timestamp.Before(start.Add(-time.Second)) || rec.Timestamp.After(time.Now().Add(time.Second)) {
				t.Errorf("record %s timestamp %v, want the time it was produced", v, rec.Timestamp)
			}
			var i int
			fmt.Sscanf(string(v), "value-%d", &i)
			wantKey := ""
			if i != 0 {
				wantKey = base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "key-%d", i))
			}
			if rec.Key != wantKey {
				t.Errorf("record %s key %q, want %q", v, rec.Key, wantKey)
			}
			if len(rec.Headers) != 1 || !bytes.Equal(rec.Headers[0]["trace"], []byte{0, byte(i), 200, 255}) {
				t.Errorf("record %s headers %v", v, rec.Headers)
			}
		}
	}
	if biggest != 5 || len(partitions) != 3 || len(seen) != 12 {
		t.Errorf("biggest batch %d, partitions %v, records %d; want 5, all three, 12", biggest, partitions, len(seen))
	}
	if !bytes.Contains(got[r.topic("batch")][0].raw, []byte(`"headers":[{"trace":[0,`)) ||
		!bytes.Contains(got[r.topic("batch")][0].raw, []byte(`,-56,-1]}]`)) {
		t.Errorf("headers are not Lambda's signed byte lists: %s", got[r.topic("batch")][0].raw)
	}
	waitFor(t, "the batch group's commits", func() bool {
		return maps.Equal(r.committed(t, pre+"-batch", r.topic("batch")), map[int]int64{0: 4, 1: 4, 2: 4})
	})

	// LATEST: only what was produced after ready.
	var latest []string
	for _, e := range got[r.topic("latest")] {
		for _, rec := range e.records() {
			v, _ := base64.StdEncoding.DecodeString(rec.Value)
			latest = append(latest, string(v))
		}
	}
	if strings.Join(latest, ",") != "new-0,new-1" && strings.Join(latest, ",") != "new-1,new-0" {
		t.Errorf("LATEST delivered %v, want new-0 and new-1 only", latest)
	}

	msk := got[r.topic("msk")][0].ev
	if msk.EventSource != "aws:kafka" || !strings.HasSuffix(msk.EventSourceARN, "cluster/local/11111111-2222-3333-4444-555555555555-1") {
		t.Errorf("MSK event source %q arn %q", msk.EventSource, msk.EventSourceARN)
	}

	// Shutdown: the members leave, the instances end, no trigger goroutine remains.
	r.stop(t)
	for _, g := range []string{"-batch", "-latest", "-msk", "-retry"} {
		if n := groupMembers(t, r, pre+g); n != 0 {
			t.Errorf("group %s has %d members after shutdown", pre+g, n)
		}
	}
	for _, fn := range []string{"KafkaRecorder", "KafkaMsk", "KafkaFailFirst"} {
		if n := r.host.Instances(fn); n != 0 {
			t.Errorf("%s has %d instances after shutdown", fn, n)
		}
	}
	var dump bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&dump, 2)
	if strings.Contains(dump.String(), "runtime/kafkatrigger.") {
		t.Errorf("kafka trigger goroutines still run after shutdown:\n%s", dump.String())
	}
}

// wantEventShape checks what Lambda puts around the records of a SelfManagedKafka batch.
func wantEventShape(t *testing.T, e received, brokers string) {
	t.Helper()
	if e.ev.EventSource != "SelfManagedKafka" || e.ev.BootstrapServers != brokers {
		t.Errorf("eventSource %q bootstrapServers %q", e.ev.EventSource, e.ev.BootstrapServers)
	}
	if bytes.Contains(e.raw, []byte("eventSourceArn")) {
		t.Errorf("a self-managed event carries an eventSourceArn: %s", e.raw)
	}
	for key, recs := range e.ev.Records {
		for _, rec := range recs {
			if want := fmt.Sprintf("%s-%d", rec.Topic, rec.Partition); key != want {
				t.Errorf("record of %s filed under %s", want, key)
			}
			if rec.TimestampType != "CREATE_TIME" {
				t.Errorf("timestampType %q", rec.TimestampType)
			}
		}
	}
}

func TestKafkaTriggersOff(t *testing.T) {
	r := startKafkaRun(t, readTemplate(t), map[string]string{KafkaTriggersEnv: "off"}, nil)
	pre := strings.TrimSuffix(r.prefix, "_")
	for _, g := range []string{"-batch", "-latest", "-msk", "-retry"} {
		if n := groupMembers(t, r, pre+g); n != 0 {
			t.Errorf("group %s has %d members with %s=off", pre+g, n, KafkaTriggersEnv)
		}
	}
}

// groupMembers returns how many members group has; 0 when the broker does not know it.
func groupMembers(t *testing.T, r *kafkaRun, group string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.client.DescribeGroups(ctx, &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil {
		t.Fatalf("describe group %s: %v", group, err)
	}
	for _, g := range res.Groups {
		if g.GroupID == group && g.Error == nil {
			return len(g.Members)
		}
	}
	return 0
}

// BenchmarkKafkaTriggerThroughput measures records delivered per second through a Kafka trigger
// to a function that accepts every batch: produce b.N records, wait until all are delivered.
func BenchmarkKafkaTriggerThroughput(b *testing.B) {
	deliveries := watchDeliveries(b)
	tmpl, err := os.ReadFile(filepath.Join("testdata", "kafka-bench.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	r := startKafkaRun(b, string(tmpl), nil, nil)
	msgs := make([]kafka.Message, b.N)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: make([]byte, 256)}
	}

	b.ResetTimer()
	start := time.Now()
	r.produce(b, r.topic("bench"), msgs...)
	for delivered := 0; delivered < b.N; {
		if d := nextDelivery(b, deliveries); d.Err == nil {
			delivered += d.Records
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}
