package identity

import (
	"errors"
	"strings"
	"testing"
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
		{strings.Repeat("a", 11), false},
		{strings.Repeat("a", 12), true},
		{strings.Repeat("é", 12), true}, // 24 bytes, 12 code points
		{strings.Repeat("é", 11), false},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{strings.Repeat("a", 12) + "\xff", false},
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
