// Command set-conversation-retention is the SetConversationRetention function: PUT /v1/conversations/{id}/retention sets a conversation's retention override, DELETE removes it (tenant admin).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/retention"
)

func main() { boot.HTTP("SetConversationRetention", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Retention(ctx)
	if err != nil {
		return nil, err
	}
	return retention.NewHandlers(svc).SetConversation, nil
}
