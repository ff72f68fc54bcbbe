package boot

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"caas.dev/shared/auditlog"
)

func TestRecorderFromEnv(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	if rec := env(map[string]string{}, &logs).Recorder(ctx); rec != nil {
		t.Errorf("a recorder %T without Kafka or Mongo", rec)
	}
	if n := strings.Count(logs.String(), "requests are not recorded"); n != 1 {
		t.Errorf("logged %d times that requests are not recorded: %s", n, logs.String())
	}

	logs.Reset()
	rec, ok := env(map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092", "CAAS_AUDIT_TOPIC": "caas.audit",
		"MONGO_URI": "mongodb://127.0.0.1:27017"}, &logs).Recorder(ctx).(*auditlog.Recorder)
	if !ok || rec.Kafka == nil || rec.Outbox == nil {
		t.Fatalf("recorder %+v; want Kafka and the outbox", rec)
	}
	// Kafka without the topic: the outbox alone.
	rec, ok = env(map[string]string{"KAFKA_BROKERS": "127.0.0.1:9092", "MONGO_URI": "mongodb://127.0.0.1:27017"}, &logs).Recorder(ctx).(*auditlog.Recorder)
	if !ok || rec.Kafka != nil || rec.Outbox == nil {
		t.Fatalf("recorder %+v; want the outbox alone", rec)
	}
	if logs.Len() != 0 {
		t.Errorf("a configured recorder logged: %s", logs.String())
	}
}
