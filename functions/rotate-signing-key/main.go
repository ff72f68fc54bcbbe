// Command rotate-signing-key is the RotateSigningKey function, run daily by a schedule: when
// the active signing key is older than CAAS_SIGNING_KEY_ROTATION (30 days when unset) it adds
// a new generation, and it retires the keys no unexpired token can still need.
package main

import (
	"context"
	"encoding/json"
	"fmt"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

func main() { boot.Start("RotateSigningKey", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	tokens, err := env.Tokens()
	if err != nil {
		return nil, err
	}
	policy, err := identity.RotationPolicyFromEnv(env.Getenv, tokens.TTL)
	if err != nil {
		return nil, fmt.Errorf("rotation policy: %w", err)
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	rotator := &identity.KeyRotator{
		Store:  db.SigningKeys(),
		Policy: policy,
		Clock:  clock.System{},
		IDs:    ids.Random{},
		Events: identity.LogSink{Log: env.Log},
	}
	return func(ctx context.Context, _ json.RawMessage) (identity.RotationResult, error) {
		res, err := rotator.Rotate(ctx)
		if err != nil {
			return res, err
		}
		env.Log.InfoContext(ctx, "signing keys rotated", "active_key_id", res.ActiveKeyID,
			"added", res.Added, "retired", res.Retired)
		return res, nil
	}, nil
}
