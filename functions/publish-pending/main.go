// Command publish-pending is the PublishPending function: every minute (an EventBridge
// schedule) it publishes to Kafka the messages whose publication failed in their request,
// oldest first, so no stored message is left out of the event stream. It answers how many it
// published.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
)

// result is the function's answer: how many pending messages this run published.
type result struct {
	Published int `json:"published"`
}

func main() { boot.Start("PublishPending", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	deps, err := env.ChatDeps(ctx)
	if err != nil {
		return nil, err
	}

	svc := chat.NewService(deps)
	return func(ctx context.Context, ev events.EventBridgeEvent) (result, error) {
		n, err := svc.PublishPending(ctx)
		if err != nil {
			// Returning the error marks the run failed; the next run starts over where this stopped.
			env.Log.ErrorContext(ctx, "publish pending messages", "published", n, "error", err.Error())
			return result{Published: n}, err
		}
		env.Log.InfoContext(ctx, "published pending messages", "published", n, "event_id", ev.ID)
		return result{Published: n}, nil
	}, nil
}
