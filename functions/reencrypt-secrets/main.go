// Command reencrypt-secrets is the ReencryptSecrets function: on a schedule it moves what the
// key service itself keeps to the primary versions of its keys, in bounded batches inside the
// run's time: the data keys of users' keys wrapped by an older version of their tenant's KEK
// (after which the KEK's old versions can be retired), then the users' TOTP seeds sealed under
// an older version of the tenant's secrets key. A run cut short leaves the rest to the next.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/boot"
	"caas.dev/shared/clock"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// result is the function's answer: what this run moved and whether it saw everything.
type result struct {
	UserKeysRewrapped  int  `json:"user_keys_rewrapped"`
	SecretsReencrypted int  `json:"secrets_reencrypted"`
	Complete           bool `json:"complete"`
}

func main() { boot.Start("ReencryptSecrets", setup) }

func setup(ctx context.Context, env *boot.Env) (any, error) {
	ks, err := env.Keys(ctx)
	if err != nil {
		return nil, err
	}
	db, err := env.Mongo(ctx)
	if err != nil {
		return nil, err
	}
	users, err := identity.NewService(identity.Deps{Users: db.Users(), MFA: db.MFA(), Secrets: ks,
		Argon2: identity.DefaultArgon2, Clock: clock.System{}, IDs: ids.Random{}})
	if err != nil {
		return nil, err
	}

	return func(ctx context.Context, ev events.EventBridgeEvent) (result, error) {
		var res result
		n, keysDone, err := ks.RewrapUserKeys(ctx)
		res.UserKeysRewrapped = n
		if err != nil {
			env.Log.ErrorContext(ctx, "rewrap user keys", "rewrapped", n, "error", err.Error())
			return res, err
		}
		m, secretsDone, err := users.ReencryptSecrets(ctx)
		res.SecretsReencrypted = m
		if err != nil {
			env.Log.ErrorContext(ctx, "re-encrypt secrets", "reencrypted", m, "error", err.Error())
			return res, err
		}
		res.Complete = keysDone && secretsDone
		env.Log.InfoContext(ctx, "re-encryption run", "user_keys_rewrapped", n,
			"secrets_reencrypted", m, "complete", res.Complete, "event_id", ev.ID)
		return res, nil
	}, nil
}
