package identity

import (
	"strings"
	"testing"
	"time"
)

func TestTokenConfigFromEnv(t *testing.T) {
	cases := []struct {
		env  map[string]string
		ttl  time.Duration
		fail bool
	}{
		{map[string]string{"CAAS_JWT_ISSUER": "caas", "CAAS_JWT_AUDIENCE": "caas"}, 15 * time.Minute, false},
		{map[string]string{"CAAS_JWT_ISSUER": "caas", "CAAS_JWT_AUDIENCE": "caas", "CAAS_ACCESS_TOKEN_TTL": "5m"}, 5 * time.Minute, false},
		{map[string]string{"CAAS_JWT_ISSUER": "caas", "CAAS_JWT_AUDIENCE": "caas", "CAAS_ACCESS_TOKEN_TTL": "5"}, 0, true},
		{map[string]string{"CAAS_JWT_ISSUER": "caas", "CAAS_JWT_AUDIENCE": "caas", "CAAS_ACCESS_TOKEN_TTL": "10s"}, 0, true},
		{map[string]string{"CAAS_JWT_ISSUER": "caas", "CAAS_JWT_AUDIENCE": "caas", "CAAS_ACCESS_TOKEN_TTL": "48h"}, 0, true},
		{map[string]string{"CAAS_JWT_AUDIENCE": "caas"}, 0, true},
		{map[string]string{"CAAS_JWT_ISSUER": "caas"}, 0, true},
	}
	for _, c := range cases {
		got, err := TokenConfigFromEnv(func(k string) string { return c.env[k] })
		if c.fail != (err != nil) || (!c.fail && got.TTL != c.ttl) {
			t.Errorf("env %v: %+v, %v", c.env, got, err)
		}
	}
}

func TestAccountLockoutFromEnv(t *testing.T) {
	custom := DefaultAccountLockout
	custom.DelayAfter, custom.MaxDelay, custom.LockAfter, custom.LockFor = 2, time.Second, 4, 3*time.Second
	cases := []struct {
		name    string
		env     map[string]string
		want    LockoutPolicy
		wantErr string // the variable the error must name; empty: no error
	}{
		{"unset keeps the defaults", nil, DefaultAccountLockout, ""},
		{"all set", map[string]string{"CAAS_LOGIN_DELAY_AFTER": "2", "CAAS_LOGIN_DELAY_MAX": "1s",
			"CAAS_LOGIN_LOCKOUT_AFTER": "4", "CAAS_LOGIN_LOCKOUT_FOR": "3s"}, custom, ""},
		{"lockout equal to the delay", map[string]string{"CAAS_LOGIN_DELAY_AFTER": "10"},
			LockoutPolicy{DelayAfter: 10, Base: time.Second, MaxDelay: time.Minute, LockAfter: 10,
				LockFor: 15 * time.Minute, Keep: 15 * time.Minute}, ""},
		{"delay after not a number", map[string]string{"CAAS_LOGIN_DELAY_AFTER": "five"}, LockoutPolicy{}, "CAAS_LOGIN_DELAY_AFTER"},
		{"delay after zero", map[string]string{"CAAS_LOGIN_DELAY_AFTER": "0"}, LockoutPolicy{}, "CAAS_LOGIN_DELAY_AFTER"},
		{"delay max without unit", map[string]string{"CAAS_LOGIN_DELAY_MAX": "60"}, LockoutPolicy{}, "CAAS_LOGIN_DELAY_MAX"},
		{"delay max negative", map[string]string{"CAAS_LOGIN_DELAY_MAX": "-1s"}, LockoutPolicy{}, "CAAS_LOGIN_DELAY_MAX"},
		{"lockout after negative", map[string]string{"CAAS_LOGIN_LOCKOUT_AFTER": "-3"}, LockoutPolicy{}, "CAAS_LOGIN_LOCKOUT_AFTER"},
		{"lockout before the delay", map[string]string{"CAAS_LOGIN_LOCKOUT_AFTER": "3"}, LockoutPolicy{}, "CAAS_LOGIN_LOCKOUT_AFTER"},
		{"lockout for zero", map[string]string{"CAAS_LOGIN_LOCKOUT_FOR": "0s"}, LockoutPolicy{}, "CAAS_LOGIN_LOCKOUT_FOR"},
		{"lockout for garbage", map[string]string{"CAAS_LOGIN_LOCKOUT_FOR": "soon"}, LockoutPolicy{}, "CAAS_LOGIN_LOCKOUT_FOR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AccountLockoutFromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want an error naming %s, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
