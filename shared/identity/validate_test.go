package identity

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"caas.dev/shared/fault"
)

func TestNormalizeEmail(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"ann@example.com", "ann@example.com", true},
		{"  Ann.Lee@Example.COM \t", "ann.lee@example.com", true},
		{"ann+chat@sub.example.co.uk", "ann+chat@sub.example.co.uk", true},
		{"o'brien@example.ie", "o'brien@example.ie", true},
		{"Jörg@example.de", "jörg@example.de", true},
		{"ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example", true},
		{"", "", false},
		{"   ", "", false},
		{"ann", "", false},
		{"ann@", "", false},
		{"@example.com", "", false},
		{"ann@example", "", false},
		{"ann@@example.com", "", false},
		{"a@b@example.com", "", false},
		{".ann@example.com", "", false},
		{"ann.@example.com", "", false},
		{"an..n@example.com", "", false},
		{"an n@example.com", "", false},
		{"\"ann\"@example.com", "", false},
		{"ann@exa_mple.com", "", false},
		{"ann@-example.com", "", false},
		{"ann@example-.com", "", false},
		{"ann@example..com", "", false},
		{"ann@bücher.de", "", false},
		{"ann@127.0.0.1", "", false},
		{"ann@[127.0.0.1]", "", false},
		{"ann\x00@example.com", "", false},
		{strings.Repeat("a", 65) + "@example.com", "", false},
		{"a@" + strings.Repeat("b", 64) + ".com", "", false},
		{"a@" + strings.Repeat("b.", 130) + "com", "", false},
	}
	for _, c := range cases {
		got, err := NormalizeEmail(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want ErrInvalidEmail", c.in, got, err)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{strings.Repeat("k", 11), false},
		{strings.Repeat("k", 12), true},
		{strings.Repeat("é", 12), true}, // 24 bytes, 12 code points
		{strings.Repeat("é", 11), false},
		{strings.Repeat("k", 128), true},
		{strings.Repeat("k", 129), false},
		{strings.Repeat("k", 12) + "\xff", false},
		{"correct horse battery", true},
	}
	for _, c := range cases {
		err := CheckPassword(c.in)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWeakPassword)) {
			t.Errorf("CheckPassword(%d bytes) = %v, want ok=%v", len(c.in), err, c.ok)
		}
	}
}

func TestNormalizeDisplayName(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"Ann", "Ann", true},
		{"  Ann Lee ", "Ann Lee", true},
		{"李小龍", "李小龍", true},
		{strings.Repeat("é", 100), strings.Repeat("é", 100), true},
		{strings.Repeat("é", 101), "", false},
		{"", "", false},
		{"   ", "", false},
		{"Ann\nLee", "", false},
		{"Ann\x00", "", false},
		{"Ann\u202eLee", "", false}, // right-to-left override
		{"Ann\u200bLee", "", false}, // zero-width space
		{"\xff", "", false},
	}
	for _, c := range cases {
		got, err := NormalizeDisplayName(c.in)
		if c.ok && (err != nil || got != c.want) {
			t.Errorf("NormalizeDisplayName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if !c.ok && !errors.Is(err, ErrInvalidDisplayName) {
			t.Errorf("NormalizeDisplayName(%q) = %q, %v; want ErrInvalidDisplayName", c.in, got, err)
		}
	}
}

func TestCheckPasswordRefusesCommonPasswords(t *testing.T) {
	for _, p := range []string{"password1234", "PASSWORD1234", "Qwertyuiop123", "123456789012", "iloveyou2024",
		"1q2w3e4r5t6y", "passwordpassword", "aaaaaaaaaaaa", "Letmein12345"} {
		err := CheckPassword(p)
		if !errors.Is(err, ErrWeakPassword) || !strings.Contains(detailOf(err), "common") {
			t.Errorf("CheckPassword(%q) = %v, want weak_password saying it is common", p, err)
		}
	}
	if n := len(commonPasswords()); n < 2000 {
		t.Fatalf("the common password list has %d entries", n)
	}
	for p := range commonPasswords() {
		if p != strings.ToLower(p) || utf8.RuneCountInString(p) < MinPasswordLen {
			t.Fatalf("list entry %q is not lower case or is shorter than the minimum", p)
		}
	}
	if err := CheckPassword("password12"); err == nil || strings.Contains(detailOf(err), "common") {
		t.Fatalf("a short password must be refused for its length first: %v", err)
	}
}

func detailOf(err error) string {
	if f := fault.As(err); f != nil {
		return f.Detail
	}
	return ""
}
