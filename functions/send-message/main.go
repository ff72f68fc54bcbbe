// Command send-message is the SendMessage function: POST /v1/conversations/{id}/messages stores a message once and publishes its event to Kafka.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("SendMessage", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	deps, err := env.MessageDeps(ctx)
	if err != nil {
		return nil, err
	}
	return chat.NewHandlers(chat.NewService(deps)).SendMessage, nil
}
