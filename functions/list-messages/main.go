// Command list-messages is the ListMessages function: GET /v1/conversations/{id}/messages pages through a conversation's messages by seq.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("ListMessages", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	deps, err := env.MessageDeps(ctx)
	if err != nil {
		return nil, err
	}
	return chat.NewHandlers(chat.NewService(deps)).ListMessages, nil
}
