package boot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/identity"
	"caas.dev/shared/mongo"
	"caas.dev/shared/retention"
	"caas.dev/shared/s3"
)

// ExportsTopicEnv names the Kafka topic of GDPR export jobs (caas.gdpr.exports).
const ExportsTopicEnv = "CAAS_EXPORTS_TOPIC"

// Exporter returns the GDPR export service: jobs in caas_compliance, archives in the bucket of
// S3_BUCKET, job events to CAAS_EXPORTS_TOPIC (when set; otherwise only the schedule builds),
// message bodies opened with the key service and audit records found by the user's pseudonym.
func (e *Env) Exporter(ctx context.Context) (*gdpr.Exporter, error) {
	d, err := e.subjectDeps(ctx)
	if err != nil {
		return nil, err
	}
	svc, db, ks, trail := d.gdpr, d.db, d.keys, d.audit
	cfg := s3.ConfigFromEnv(e.getenv)
	if cfg.Bucket == "" {
		return nil, errors.New(s3.BucketEnv + " is required")
	}
	store, err := s3.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	x := &gdpr.Exporter{
		Service: svc, Exports: mongo.NewExportStore(db), Source: mongo.NewExportSource(db), Bodies: ks,
		Audit: trail, Archives: store, ObjectPrefix: mongo.ExportObjectPrefix, Media: mongo.NewMediaStore(db),
	}
	ret, err := e.Retention(ctx)
	if err != nil {
		return nil, err
	}
	x.Retention = func(ctx context.Context, tenantID string) ([]gdpr.RetentionStatement, error) {
		p, err := ret.Describe(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		return RetentionStatements(p), nil
	}
	if topic := e.getenv(ExportsTopicEnv); topic != "" {
		brokers, err := e.KafkaBrokers()
		if err != nil {
			return nil, err
		}
		q, err := NewExportQueue(brokers, topic)
		if err != nil {
			return nil, err
		}
		x.Queue = q
	}
	return x, nil
}

// RetentionStatements states a tenant's retention periods as an export's information does:
// the policy's period where it sets one, said as the retention run applies it to the category,
// and the default statement of the category otherwise.
func RetentionStatements(p retention.Periods) []gdpr.RetentionStatement {
	days := map[string]int{"messages": p.MessagesDays, "sessions": p.SessionsDays, "audit": p.AuditRecordsDays,
		"exports": p.ExportsDays, "media": p.MediaDays}
	const policy = ", under the tenant's retention policy (a conversation may have its own period; a legal hold suspends deletion)"
	out := make([]gdpr.RetentionStatement, 0, len(gdpr.DefaultRetention))
	for _, d := range gdpr.DefaultRetention {
		n := days[d.Category]
		if n <= 0 {
			out = append(out, d)
			continue
		}
		switch d.Category {
		case "messages":
			d.Period = "deleted " + dayCount(n) + " after it was sent" + policy + "; bodies are destroyed on erasure"
		case "media":
			d.Period = "deleted " + dayCount(n) + " after it was uploaded" + policy + "; deleted on erasure"
		case "sessions":
			d.Period = "deleted " + dayCount(n) + " after the session ended (sign-out or revocation), or once unused for " +
				dayCount(n+int(identity.DefaultRefreshTTL/(24*time.Hour))) + " if it never ended, under the tenant's retention policy; deleted on erasure"
		case "audit":
			d.Period = "deleted once older than " + dayCount(n) + ", in whole signed stretches of the audit trail, so some records are kept longer; " +
				"the link from the pseudonym to you is deleted on erasure"
		case "exports":
			d.Period = "an export archive is deleted 7 days after it is built; the record of an export is deleted " + dayCount(n) +
				" after it was requested, under the tenant's retention policy"
		}
		out = append(out, d)
	}
	return out
}

// dayCount says n days in English: "1 day", "30 days".
func dayCount(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// ExportQueue publishes export job events to a Kafka topic, keyed by export id.
type ExportQueue struct {
	w *kafkago.Writer
}

// NewExportQueue returns the queue of topic on the comma-separated brokers. It does not connect
// until the first publish.
func NewExportQueue(brokers, topic string) (*ExportQueue, error) {
	var addrs []string
	for _, b := range strings.Split(brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("export queue: no brokers (KAFKA_BROKERS is empty)")
	}
	return &ExportQueue{w: &kafkago.Writer{
		Addr: kafkago.TCP(addrs...), Topic: topic, Balancer: &kafkago.Hash{}, RequiredAcks: kafkago.RequireAll,
		BatchTimeout: 5 * time.Millisecond, WriteTimeout: 5 * time.Second, MaxAttempts: 3,
		Transport: &kafkago.Transport{DialTimeout: 3 * time.Second}, AllowAutoTopicCreation: true,
	}}, nil
}

// EnqueueExport implements gdpr.ExportQueue.
func (q *ExportQueue) EnqueueExport(ctx context.Context, tenantID, id string) error {
	v, err := json.Marshal(gdpr.ExportJobEvent{ExportID: id, TenantID: tenantID})
	if err != nil {
		return fmt.Errorf("encode export job: %w", err)
	}
	if err := q.w.WriteMessages(ctx, kafkago.Message{Key: []byte(id), Value: v}); err != nil {
		return fmt.Errorf("publish export job: %w", err)
	}
	return nil
}

// Close releases the queue's connections.
func (q *ExportQueue) Close() error { return q.w.Close() }
