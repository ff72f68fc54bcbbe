// Command mfa-verify is the MfaVerify function: POST /v1/auth/mfa/verify completes a login that needs MFA.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("MfaVerify", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.LoginService(ctx, true)
	if err != nil {
		return nil, err
	}
	return identity.MfaVerifyHandler(svc), nil
}
