package identity

import (
	"errors"
	"fmt"
	"strconv"
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

// The variables that set the account lockout (DefaultAccountLockout when unset).
const (
	LoginDelayAfterEnv   = "CAAS_LOGIN_DELAY_AFTER"
	LoginDelayMaxEnv     = "CAAS_LOGIN_DELAY_MAX"
	LoginLockoutAfterEnv = "CAAS_LOGIN_LOCKOUT_AFTER"
	LoginLockoutForEnv   = "CAAS_LOGIN_LOCKOUT_FOR"
)

// AccountLockoutFromEnv reads the account lockout through getenv: CAAS_LOGIN_DELAY_AFTER
// (failures before the first delay, 5), CAAS_LOGIN_DELAY_MAX (the longest delay, 1m),
// CAAS_LOGIN_LOCKOUT_AFTER (failures before the lockout, 10, not below the delay's) and
// CAAS_LOGIN_LOCKOUT_FOR (its length, 15m). An unset variable keeps its default; a bad one is
// an error naming it.
func AccountLockoutFromEnv(getenv func(string) string) (LockoutPolicy, error) {
	p := DefaultAccountLockout
	if s := getenv(LoginDelayAfterEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, fmt.Errorf("%s %q: must be a whole number of failures, at least 1", LoginDelayAfterEnv, s)
		}
		p.DelayAfter = n
	}
	if s := getenv(LoginDelayMaxEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("%s %q: must be a positive duration such as 1m", LoginDelayMaxEnv, s)
		}
		p.MaxDelay = d
	}
	if s := getenv(LoginLockoutAfterEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, fmt.Errorf("%s %q: must be a whole number of failures, at least 1", LoginLockoutAfterEnv, s)
		}
		p.LockAfter = n
	}
	if s := getenv(LoginLockoutForEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("%s %q: must be a positive duration such as 15m", LoginLockoutForEnv, s)
		}
		p.LockFor = d
	}
	if p.LockAfter < p.DelayAfter {
		return p, fmt.Errorf("%s %d is below %s %d: the lockout must not come before the delays",
			LoginLockoutAfterEnv, p.LockAfter, LoginDelayAfterEnv, p.DelayAfter)
	}
	return p, nil
}
