package identity

import (
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
