// Command complete-upload is the CompleteUpload function: POST /v1/media/{id}/complete checks the uploaded object against its declaration and marks the media ready.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/media"
)

func main() { boot.HTTP("CompleteUpload", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Media(ctx)
	if err != nil {
		return nil, err
	}
	return media.NewHandlers(svc).CompleteUpload, nil
}
