package boot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"caas.dev/shared/audit"

	"caas.dev/shared/auditlog"
	"caas.dev/shared/edge"
	"caas.dev/shared/kafka"
)

// Recorder returns the request recorder of the function's environment: Kafka when
// KAFKA_BROKERS and CAAS_AUDIT_TOPIC are set, the Mongo outbox when MONGO_URI is, or nil (logged
// once) when neither is: the function then starts but records no request. With a master key
// (CAAS_KMS_KEY_ID or CAAS_MASTER_KEY_FILE) it makes users' pseudonyms itself, so its records
// name no user id even in transit.
func (e *Env) Recorder(ctx context.Context) edge.Recorder {
	rec := &auditlog.Recorder{}
	if brokers, topic := e.getenv("KAFKA_BROKERS"), e.getenv("CAAS_AUDIT_TOPIC"); brokers != "" && topic != "" {
		w, err := kafka.NewRecordWriter(brokers, topic, auditlog.DefaultTimeout)
		if err != nil {
			e.Log.WarnContext(ctx, "audit records are not sent to Kafka", "error", err.Error())
		} else {
			rec.Kafka = w
		}
	}
	if e.getenv("MONGO_URI") != "" {
		db, err := e.Mongo(ctx)
		if err != nil {
			e.Log.WarnContext(ctx, "audit records have no outbox", "error", e.redact(err.Error()))
		} else {
			rec.Outbox = db.AuditOutbox()
		}
	}
	if rec.Kafka == nil && rec.Outbox == nil {
		e.Log.WarnContext(ctx, "requests are not recorded in the audit trail: neither KAFKA_BROKERS with CAAS_AUDIT_TOPIC nor MONGO_URI is set")
		return nil
	}
	rec.Logger = e.Log
	if e.getenv("MONGO_URI") != "" && e.hasMasterKey() {
		rec.Pseudonyms = &lazyPseudonyms{env: e}
	}
	return rec
}

// retryPseudonymsAfter is how long a function waits, after the audit service failed to open,
// before it tries again; meanwhile its records leave with user ids.
const retryPseudonymsAfter = 30 * time.Second

// lazyPseudonyms opens the audit service (and with it the key service) on the first record
// that names a user, not at start: a function whose requests are never recorded (health
// checks, the JWKS) never opens it, and a failure to open it does not fail the cold start.
type lazyPseudonyms struct {
	env *Env

	mu       sync.Mutex
	svc      *audit.Service
	failedAt time.Time
}

// Pseudonymise implements auditlog.Pseudonymiser.
func (l *lazyPseudonyms) Pseudonymise(ctx context.Context, ev audit.Event) (audit.Event, error) {
	l.mu.Lock()
	svc := l.svc
	if svc == nil && (l.failedAt.IsZero() || time.Since(l.failedAt) > retryPseudonymsAfter) {
		var err error
		if svc, err = l.env.Audit(ctx); err != nil {
			l.failedAt = time.Now()
			l.mu.Unlock()
			return audit.Event{}, fmt.Errorf("open the audit service: %s", l.env.redact(err.Error()))
		}
		l.svc = svc
	}
	l.mu.Unlock()
	if svc == nil {
		return audit.Event{}, errors.New("the audit service is unavailable; retried later")
	}
	return svc.Pseudonymise(ctx, ev)
}

// EdgeHandler returns h behind the function edge with the environment's request recorder.
func (e *Env) EdgeHandler(ctx context.Context, h edge.HandlerFunc) edge.LambdaHandler {
	return edge.HTTPRecorded(e.Log, e.Recorder(ctx), h)
}
