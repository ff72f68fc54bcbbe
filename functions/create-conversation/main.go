// Command create-conversation is the CreateConversation function: POST /v1/conversations creates a group conversation or opens the direct conversation of two users.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/mongo"
)

func main() { boot.HTTP("CreateConversation", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	deps, err := env.ChatDeps(ctx)
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx) // the client ChatDeps opened
	if err != nil {
		return nil, err
	}

	deps.Keys = mongo.NewIdempotencyKeys(db)
	return chat.NewHandlers(chat.NewService(deps)).CreateConversation, nil
}
