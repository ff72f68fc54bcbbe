// Package auditlog carries the function edge's request records to the audit trail. Recorder
// hands each record, before the response goes out, to Kafka (the audit topic, keyed by tenant)
// or, when Kafka fails, to the Mongo outbox; the AuditAppend function consumes the topic and
// AuditOutboxDrain the outbox, both through audit.Service.Ingest, which makes the pseudonyms
// before anything enters a chain. Every record has a fresh id and a chain skips an id it holds,
// so a record handed over twice (a redelivered batch, a write Kafka took after the recorder
// gave up on it) is stored once.
package auditlog

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/audit"
	"caas.dev/shared/edge"
	"caas.dev/shared/mongo"
)

// DefaultTimeout bounds each hand-over attempt (Kafka, then the outbox), so a down backend
// adds at most twice this to a response.
const DefaultTimeout = time.Second

// Publisher writes one keyed value to the audit topic; *kafka.RecordWriter is the production one.
type Publisher interface {
	Write(ctx context.Context, key string, value []byte) error
}

// Outbox keeps an event Kafka did not take; *mongo.AuditOutbox is the production one.
type Outbox interface {
	Insert(ctx context.Context, id string, event []byte) error
}

// Pseudonymiser replaces the user ids of an event by pseudonyms; *audit.Service is the
// production one.
type Pseudonymiser interface {
	Pseudonymise(ctx context.Context, e audit.Event) (audit.Event, error)
}

// Recorder implements edge.Recorder: Kafka first, the outbox when Kafka fails. Either may be
// nil. It keeps nothing in memory past Record's return. With Pseudonyms, a record leaves the
// function naming users by pseudonym only; when that fails (the key service is unreachable)
// it leaves with the user ids, which the consumer replaces before the chain, and the failure
// is logged to Logger.
type Recorder struct {
	Kafka      Publisher
	Outbox     Outbox
	Pseudonyms Pseudonymiser
	Logger     *slog.Logger
	Timeout    time.Duration // of each attempt; DefaultTimeout when zero
}

var _ edge.Recorder = (*Recorder)(nil)

// Event returns the wire form of an edge record.
func Event(r edge.AccessRecord) audit.Event {
	outcome := audit.OutcomeFailure
	if r.Succeeded() {
		outcome = audit.OutcomeSuccess
	}
	return audit.Event{ID: r.ID, TenantID: r.TenantID, Time: r.Time.UTC().Truncate(time.Millisecond),
		Actor: audit.EventActor{Type: r.ActorType, ID: r.ActorID}, Action: r.Action, Resource: r.Resource,
		Outcome: outcome, Status: r.Status, IP: r.IP, UserAgent: r.UserAgent, LatencyMS: r.LatencyMS,
		RequestID: r.RequestID}
}

// Record implements edge.Recorder. It returns an error only when neither Kafka nor the outbox
// took the record. The request's own cancellation does not cut the hand-over short; the
// timeouts bound it.
func (rec *Recorder) Record(ctx context.Context, r edge.AccessRecord) error {
	timeout := rec.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx = context.WithoutCancel(ctx)
	ev := Event(r)
	if rec.Pseudonyms != nil {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		pe, err := rec.Pseudonyms.Pseudonymise(pctx, ev)
		cancel()
		if err == nil {
			ev = pe
		} else if rec.Logger != nil {
			rec.Logger.WarnContext(ctx, "audit record handed over with user ids: pseudonyms unavailable",
				"record_id", r.ID, "error", err.Error())
		}
	}
	b, err := ev.Marshal()
	if err != nil {
		return err
	}
	var errs []error
	if rec.Kafka != nil {
		kctx, cancel := context.WithTimeout(ctx, timeout)
		err := rec.Kafka.Write(kctx, r.TenantID, b)
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("kafka: %w", err))
	}
	if rec.Outbox != nil {
		octx, cancel := context.WithTimeout(ctx, timeout)
		err := rec.Outbox.Insert(octx, r.ID, b)
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("outbox: %w", err))
	}
	if len(errs) == 0 {
		return errors.New("hand over audit record: no Kafka and no outbox")
	}
	return fmt.Errorf("hand over audit record: %w", errors.Join(errs...))
}

// KafkaEvents decodes the records of a Kafka trigger's batch, in partition order, and counts
// the ones that are not audit events (dropped: they would block the topic forever).
func KafkaEvents(ev events.KafkaEvent) (out []audit.Event, malformed int) {
	for _, recs := range ev.Records {
		for _, rec := range recs {
			raw, err := base64.StdEncoding.DecodeString(rec.Value)
			if err != nil {
				malformed++
				continue
			}
			e, err := audit.ParseEvent(raw)
			if err != nil {
				malformed++
				continue
			}
			out = append(out, e)
		}
	}
	return out, malformed
}

// DrainBatch is how many outbox entries one round of Drain reads.
const DrainBatch = 200

// drainMargin is the part of the time budget Drain leaves unused, so a round is not cut off
// by the function's timeout.
const drainMargin = 5 * time.Second

// DrainResult counts what Drain did.
type DrainResult struct {
	audit.IngestResult
	// Read counts the entries read, Malformed those that were not audit events, Deleted those
	// removed from the outbox.
	Read, Malformed, Deleted int
}

// Drain appends the outbox's events to their chains, oldest first, DrainBatch at a time while
// ctx's deadline leaves time, and deletes every entry of a round once the round is stored
// (events of unknown tenants and malformed ones are dropped, and counted). A failed round
// returns its error; its entries stay for the next drain, which stores each once.
func Drain(ctx context.Context, outbox *mongo.AuditOutbox, svc *audit.Service, tenants audit.Tenants) (DrainResult, error) {
	var res DrainResult
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < drainMargin {
			return res, nil
		}
		entries, err := outbox.Oldest(ctx, DrainBatch)
		if err != nil {
			return res, fmt.Errorf("drain audit outbox: %w", err)
		}
		if len(entries) == 0 {
			return res, nil
		}
		res.Read += len(entries)
		evs := make([]audit.Event, 0, len(entries))
		ids := make([]string, len(entries))
		for i, e := range entries {
			ids[i] = e.ID
			ev, err := audit.ParseEvent(e.Event)
			if err != nil {
				res.Malformed++
				continue
			}
			evs = append(evs, ev)
		}
		ir, err := svc.Ingest(ctx, tenants, evs)
		res.Appended += ir.Appended
		res.Skipped += ir.Skipped
		res.UnknownTenant += ir.UnknownTenant
		res.Invalid += ir.Invalid
		if err != nil {
			return res, fmt.Errorf("drain audit outbox: %w", err)
		}
		n, err := outbox.Delete(ctx, ids)
		res.Deleted += n
		if err != nil {
			return res, fmt.Errorf("drain audit outbox: %w", err)
		}
		if len(entries) < DrainBatch {
			return res, nil
		}
	}
}
