// Command upload-media is the UploadMedia function: POST /v1/conversations/{id}/media declares an attachment and answers a presigned upload of it.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/media"
)

func main() { boot.HTTP("UploadMedia", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.Media(ctx)
	if err != nil {
		return nil, err
	}
	return media.NewHandlers(svc).UploadMedia, nil
}
