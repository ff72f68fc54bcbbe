package boot

import (
	"context"

	"caas.dev/shared/auditlog"
	"caas.dev/shared/edge"
	"caas.dev/shared/kafka"
)

// Recorder returns the request recorder of the function's environment: Kafka when
// KAFKA_BROKERS and CAAS_AUDIT_TOPIC are set, the Mongo outbox when MONGO_URI is, or nil (logged
// once) when neither is: the function then starts but records no request.
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
	return rec
}

// EdgeHandler returns h behind the function edge with the environment's request recorder.
func (e *Env) EdgeHandler(ctx context.Context, h edge.HandlerFunc) edge.LambdaHandler {
	return edge.HTTPRecorded(e.Log, e.Recorder(ctx), h)
}
