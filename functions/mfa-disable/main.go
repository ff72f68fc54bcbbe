// Command mfa-disable is the MfaDisable function: POST /v1/auth/mfa/disable turns MFA off given a current code or a recovery code.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("MfaDisable", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.LoginService(ctx, true)
	if err != nil {
		return nil, err
	}
	return identity.MfaDisableHandler(svc), nil
}
