// Command audit-append is the AuditAppend function. POST /v1/audit/events appends a tenant's
// own systems' events to its audit chain (API key). Triggered by batches of the caas.audit
// topic, it appends the request records of the function edge through audit.Service.Ingest; a
// failed batch returns its error, so the trigger delivers it again, and the records already
// stored are skipped by id. One binary serves both: an event with "routeKey" is an HTTP
// request, one with "eventSource" a Kafka batch.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/audit"
	"caas.dev/shared/auditlog"
	"caas.dev/shared/boot"
)

func main() { boot.Start("AuditAppend", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Audit(ctx)
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	tenants := db.Tenants()
	httpHandler := env.EdgeHandler(ctx, audit.NewHandlers(svc).Append)

	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var shape struct {
			RouteKey    string `json:"routeKey"`
			EventSource string `json:"eventSource"`
		}
		if err := json.Unmarshal(raw, &shape); err != nil {
			return nil, fmt.Errorf("decode invocation: %w", err)
		}
		switch {
		case shape.RouteKey != "":
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode http event: %w", err)
			}
			return httpHandler(ctx, ev)
		case shape.EventSource != "":
			var ev events.KafkaEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, fmt.Errorf("decode kafka event: %w", err)
			}
			evs, malformed := auditlog.KafkaEvents(ev)
			res, err := svc.Ingest(ctx, tenants, evs)
			if err != nil {
				// Returning the error has the trigger deliver the whole batch again.
				env.Log.ErrorContext(ctx, "audit ingest failed; the batch will be retried", "events", len(evs), "error", err.Error())
				return nil, err
			}
			env.Log.InfoContext(ctx, "audit events ingested", "events", len(evs), "appended", res.Appended,
				"skipped", res.Skipped, "unknown_tenant", res.UnknownTenant, "invalid", res.Invalid, "malformed", malformed)
			return nil, nil
		}
		return nil, errors.New("unknown invocation: neither an HTTP request nor a Kafka batch")
	}, nil
}
