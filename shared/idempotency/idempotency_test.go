package idempotency

import (
	"strings"
	"testing"
)

func TestValidKey(t *testing.T) {
	cases := []struct {
		key  string
		want bool
	}{
		{"a", true},
		{" spaces and ~!|{} are printable ", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{"", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"tab\there", false},
		{"new\nline", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"caf\u00e9", false},
	}
	for _, c := range cases {
		if got := ValidKey(c.key); got != c.want {
			t.Errorf("ValidKey(%q) = %v, want %v", c.key, got, c.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	sum := func(method, path string, b any) string {
		t.Helper()
		s, err := Fingerprint(method, path, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := sum("POST", "/v1/tenants", body{"Acme"})
	if len(base) != 64 {
		t.Fatalf("fingerprint %q is not a hex SHA-256", base)
	}
	if got := sum("post", "/v1/tenants", body{"Acme"}); got != base {
		t.Errorf("the method's case changed the fingerprint")
	}
	for name, other := range map[string]string{
		"method": sum("PUT", "/v1/tenants", body{"Acme"}),
		"path":   sum("POST", "/v1/conversations", body{"Acme"}),
		"body":   sum("POST", "/v1/tenants", body{"Acme "}),
	} {
		if other == base {
			t.Errorf("another %s has the same fingerprint", name)
		}
	}
}
