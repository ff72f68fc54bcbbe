// Command message-fanout is the MessageFanout function: triggered by batches of the
// caas.messages topic, it pushes each new message to every live connection of every member of
// its conversation. A failed batch (a backend down) is delivered again by the trigger, so a
// push may repeat: clients de-duplicate messages by id.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/boot"
)

func main() { boot.Start("MessageFanout", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Realtime(ctx, true)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, ev events.KafkaEvent) error {
		res, err := svc.Fanout(ctx, ev)
		if err != nil {
			// Returning the error has the trigger deliver the whole batch again.
			env.Log.ErrorContext(ctx, "fan-out failed; the batch will be retried", "records", res.Records, "error", err.Error())
			return err
		}
		env.Log.InfoContext(ctx, "fan-out done", "records", res.Records, "skipped", res.Skipped,
			"sent", res.Sent, "gone", res.Gone, "failed", res.Failed)
		return nil
	}, nil
}
