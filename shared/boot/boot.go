// Package boot starts a Lambda function. It owns what every function's main does the same way
// on a cold start: it makes the function's JSON logger, gives setup a context with a deadline,
// reads and validates the common environment through Env, and hands the one handler setup
// returns to lambda.Start. When setup fails, the error is logged once, with every URI and its
// credentials redacted, and the process exits with status 1, which Lambda reports as an init
// error.
//
// A main.go then reads at a glance:
//
//	func main() { boot.HTTP("GetMe", setup) }
//
//	func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
//		db, err := env.Mongo(ctx)
//		...
//	}
package boot

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"caas.dev/shared/edge"
)

// initTimeout bounds the work of setup: opening clients must not use up a cold start.
const initTimeout = 10 * time.Second

// exit ends the process after an init failure; tests replace it.
var exit = os.Exit

// HTTP starts the HTTP API function name: setup builds its domain handler, which runs behind
// edge.HTTP with the request recorder of the environment (Env.Recorder). It does not return.
func HTTP(name string, setup func(ctx context.Context, env *Env) (edge.HandlerFunc, error)) {
	Start(name, func(ctx context.Context, env *Env) (any, error) {
		h, err := setup(ctx, env)
		if err != nil {
			return nil, err
		}
		return env.EdgeHandler(ctx, h), nil
	})
}

// Start starts the function name with the handler setup returns, which must be a handler
// lambda.Start accepts (an authorizer, a scheduled or a direct invocation). It does not return.
func Start(name string, setup func(ctx context.Context, env *Env) (any, error)) {
	env := NewEnv(edge.NewLogger(name), os.Getenv)
	ctx, cancel := context.WithTimeout(context.Background(), initTimeout)
	// lambda.Start never returns, so the deadline, not this call, ends ctx.
	defer cancel()

	h, err := setup(ctx, env)
	if err != nil {
		env.reportInitFailure(err)
		exit(1)
		return
	}
	lambda.Start(h)
}
