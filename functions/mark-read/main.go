// Command mark-read is the MarkRead function: POST /v1/conversations/{id}/read moves the caller's read
// position forward and sends a read receipt to the other members' connections.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
)

func main() { boot.HTTP("MarkRead", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Realtime(ctx, false)
	if err != nil {
		return nil, err
	}
	return svc.MarkReadHTTP, nil
}
