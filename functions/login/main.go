// Command login is the Login function: POST /v1/auth/login checks email and password in the
// tenant of X-Tenant-ID and issues an access token and a refresh token, or, for a user with MFA
// on, an mfa_token for MfaVerify.
package main

import (
	"context"

	"caas.dev/shared/boot"
	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

func main() { boot.HTTP("Login", setup) }

func setup(ctx context.Context, env *boot.Env) (edge.HandlerFunc, error) {
	svc, err := env.LoginService(ctx, false)
	if err != nil {
		return nil, err
	}
	return identity.LoginHandler(svc), nil
}
