// Command get-media is the GetMedia function: GET /v1/media/{id} returns a media and, when ready, a presigned download link.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/media"
)

func main() { boot.HTTP("GetMedia", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Media(ctx)
	if err != nil {
		return nil, err
	}
	return media.NewHandlers(svc).GetMedia, nil
}
