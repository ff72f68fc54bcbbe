// Command get-presence is the GetPresence function: GET /v1/conversations/{id}/presence tells a member
// which members of the conversation are online now (hold at least one WebSocket connection).
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("GetPresence", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Realtime(ctx, false)
	if err != nil {
		return nil, err
	}
	return svc.GetPresence, nil
}
