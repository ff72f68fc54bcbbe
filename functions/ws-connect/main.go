// Command ws-connect is the WsConnect function: the WebSocket API's $connect route. It records the
// authorized caller's connection in Redis and, for the user's first connection, tells the
// members of their conversations that they are online.
package main

import (
	"context"

	"caas.dev/shared/boot"
)

func main() { boot.Start("WsConnect", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Realtime(ctx, false)
	if err != nil {
		return nil, err
	}
	return svc.Connect, nil
}
