// Command reencrypt-messages is the ReencryptMessages function: every hour (an EventBridge
// schedule) it moves stored message bodies to the primary version of their sender's key, in
// bounded batches from where the previous run stopped, so that old key versions can be retired.
// It answers what it did.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
)

// result is the function's answer: the counts of this run.
type result struct {
	Scanned   int  `json:"scanned"`
	Rewrapped int  `json:"rewrapped"`
	Erased    int  `json:"erased"`
	Failed    int  `json:"failed"`
	Finished  bool `json:"finished"`
}

func main() { boot.Start("ReencryptMessages", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	deps, err := env.MessageDeps(ctx)
	if err != nil {
		return nil, err
	}

	svc := chat.NewService(deps)
	return func(ctx context.Context, ev events.EventBridgeEvent) (result, error) {
		res, err := svc.ReencryptMessages(ctx, chat.ReencryptBatch, 0)
		out := result{Scanned: res.Scanned, Rewrapped: res.Rewrapped, Erased: res.Erased, Failed: res.Failed, Finished: res.Finished}
		if err != nil {
			// Returning the error marks the run failed; the next run resumes from the last
			// batch this one recorded.
			env.Log.ErrorContext(ctx, "re-encrypt messages", "scanned", res.Scanned,
				"rewrapped", res.Rewrapped, "error", err.Error())
			return out, err
		}
		env.Log.InfoContext(ctx, "re-encrypted messages", "scanned", res.Scanned, "rewrapped", res.Rewrapped,
			"erased", res.Erased, "failed", res.Failed, "finished", res.Finished, "event_id", ev.ID)
		return out, nil
	}, nil
}
