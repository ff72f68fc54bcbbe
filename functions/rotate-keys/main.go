// Command rotate-keys is the RotateKeys function, run hourly by a schedule: it adds a new
// version to every key whose automatic rotation period has passed since its newest version.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"caas.dev/shared/boot"
)

// result is what one run reports.
type result struct {
	Rotated int `json:"rotated"`
}

func main() { boot.Start("RotateKeys", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	svc, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, _ json.RawMessage) (result, error) {
		n, err := svc.RotateDue(ctx)
		env.Log.InfoContext(ctx, "keys rotated", "rotated", n)
		if err != nil {
			return result{Rotated: n}, fmt.Errorf("rotate due keys: %w", err)
		}
		return result{Rotated: n}, nil
	}, nil
}
