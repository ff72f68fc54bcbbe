// Command mfa-enroll is the MfaEnroll function: POST /v1/auth/mfa/enroll gives the caller a new TOTP secret, pending until confirmed.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("MfaEnroll", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.LoginService(ctx, true)
	if err != nil {
		return nil, err
	}
	return identity.MfaEnrollHandler(svc, env.Getenv("CAAS_JWT_ISSUER")), nil
}
