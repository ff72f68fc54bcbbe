// Command ws-default is the WsDefault function: the WebSocket API's $default route. It handles the
// client's frames (sendMessage, typing, markRead, ping) and answers on the caller's own
// connection through the management API.
package main

import (
	"context"

	"caas.dev/shared/boot"
)

func main() { boot.Start("WsDefault", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Realtime(ctx, true)
	if err != nil {
		return nil, err
	}
	return svc.Default, nil
}
