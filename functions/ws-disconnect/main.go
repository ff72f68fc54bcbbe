// Command ws-disconnect is the WsDisconnect function: the WebSocket API's $disconnect route. It forgets
// exactly the closed connection and, when it was the user's last, tells the members of their
// conversations that they are offline.
package main

import (
	"context"

	"caas.dev/shared/boot"
)

func main() { boot.Start("WsDisconnect", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Realtime(ctx, false)
	if err != nil {
		return nil, err
	}
	return svc.Disconnect, nil
}
