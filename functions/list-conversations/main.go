// Command list-conversations is the ListConversations function: GET /v1/conversations pages through the caller's conversations, newest first.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("ListConversations", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	deps, err := env.ChatDeps(ctx)
	if err != nil {
		return nil, err
	}
	return chat.NewHandlers(chat.NewService(deps)).ListConversations, nil
}
