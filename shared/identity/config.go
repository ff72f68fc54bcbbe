package identity

import (
	"errors"
	"fmt"
	"time"
)

// Bounds of CAAS_ACCESS_TOKEN_TTL: shorter is useless, longer defeats revocation.
const (
	DefaultAccessTokenTTL = 15 * time.Minute
	minAccessTokenTTL     = time.Minute
	maxAccessTokenTTL     = 24 * time.Hour
)

// TokenConfigFromEnv reads CAAS_JWT_ISSUER, CAAS_JWT_AUDIENCE and CAAS_ACCESS_TOKEN_TTL (a Go
// duration, 15m when unset) through getenv, and validates them.
func TokenConfigFromEnv(getenv func(string) string) (TokenConfig, error) {
	c := TokenConfig{Issuer: getenv("CAAS_JWT_ISSUER"), Audience: getenv("CAAS_JWT_AUDIENCE"), TTL: DefaultAccessTokenTTL}
	if c.Issuer == "" {
		return c, errors.New("CAAS_JWT_ISSUER is empty")
	}
	if c.Audience == "" {
		return c, errors.New("CAAS_JWT_AUDIENCE is empty")
	}
	if s := getenv("CAAS_ACCESS_TOKEN_TTL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < minAccessTokenTTL || d > maxAccessTokenTTL {
			return c, fmt.Errorf("CAAS_ACCESS_TOKEN_TTL %q: must be a duration from 1m to 24h", s)
		}
		c.TTL = d
	}
	return c, nil
}
