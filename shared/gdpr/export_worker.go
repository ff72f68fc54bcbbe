package gdpr

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
)

// SweepLimit is how many due jobs one scheduled run builds at most.
const SweepLimit = 20

// ExportJobEvent is the value of a record of the exports topic: which job to build. It carries
// ids only.
type ExportJobEvent struct {
	ExportID string `json:"export_id"`
	TenantID string `json:"tenant_id"`
}

// Run handles one invocation of the export worker: a Kafka batch of ExportJobEvents builds
// those jobs; anything else (the schedule's event) sweeps due and expired jobs. A job that
// fails to build is saved as failed and left to the schedule, so a Kafka batch never fails
// and is never delivered again for it.
func (x *Exporter) Run(ctx context.Context, raw json.RawMessage) (RunResult, error) {
	var probe struct {
		EventSource string          `json:"eventSource"`
		Records     json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(raw, &probe); err == nil && len(probe.Records) > 0 && probe.EventSource != "" {
		var ev events.KafkaEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return RunResult{}, fmt.Errorf("decode kafka event: %w", err)
		}
		return x.HandleJobs(ctx, ev), nil
	}
	return x.Sweep(ctx, SweepLimit)
}

// HandleJobs builds the jobs of a Kafka batch. Bad records and failed builds are logged (ids
// and errors only) and counted; the schedule retries failures.
func (x *Exporter) HandleJobs(ctx context.Context, ev events.KafkaEvent) RunResult {
	var res RunResult
	log := edge.Logger(ctx)
	for _, recs := range ev.Records {
		for _, r := range recs {
			job, err := decodeJob(r.Value)
			if err != nil {
				res.Skipped++
				log.WarnContext(ctx, "export job record skipped", "topic", r.Topic, "offset", r.Offset, "error", err.Error())
				continue
			}
			built, err := x.Build(ctx, job.TenantID, job.ExportID)
			switch {
			case err != nil:
				res.Failed++
				log.WarnContext(ctx, "export not built; the schedule retries it", "export_id", job.ExportID, "error", err.Error())
			case built:
				res.Built++
			default:
				res.Skipped++
			}
		}
	}
	return res
}

func decodeJob(value string) (ExportJobEvent, error) {
	b, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return ExportJobEvent{}, fmt.Errorf("decode record value: %w", err)
	}
	var job ExportJobEvent
	if err := json.Unmarshal(b, &job); err != nil {
		return ExportJobEvent{}, fmt.Errorf("decode export job: %w", err)
	}
	if !ids.Valid(ids.Export, job.ExportID) || job.TenantID == "" {
		return ExportJobEvent{}, errors.New("decode export job: missing or invalid ids")
	}
	return job, nil
}
