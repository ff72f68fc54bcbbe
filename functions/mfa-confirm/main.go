// Command mfa-confirm is the MfaConfirm function: POST /v1/auth/mfa/confirm turns MFA on with a code and shows the recovery codes once.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("MfaConfirm", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.LoginService(ctx, true)
	if err != nil {
		return nil, err
	}
	return identity.MfaConfirmHandler(svc), nil
}
