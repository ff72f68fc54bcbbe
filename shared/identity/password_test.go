package identity

import (
	"errors"
	"strings"
	"testing"
)

// cheap keeps the tests fast; the PHC format and the code path are the same as DefaultArgon2.
var cheap = Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword(cheap, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	ok, err := VerifyPassword(h, "correct horse battery")
	if err != nil || !ok {
		t.Fatalf("right password: ok=%v err=%v", ok, err)
	}
	ok, err = VerifyPassword(h, "correct horse batterY")
	if err != nil || ok {
		t.Fatalf("wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := HashPassword(cheap, "correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
}

func TestDefaultParamsInHash(t *testing.T) {
	h, err := HashPassword(DefaultArgon2, "a password of some length")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the OWASP parameters", h)
	}
	p, salt, key, err := parsePHC(h)
	if err != nil || p.MemoryKiB != 19456 || p.Iterations != 2 || p.Parallelism != 1 || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("parsed %+v salt %d key %d err %v", p, len(salt), len(key), err)
	}
}

// Parsing a hash and formatting its parts again must give the same string.
func TestPHCFormatRoundTrip(t *testing.T) {
	h, err := HashPassword(cheap, "password")
	if err != nil {
		t.Fatal(err)
	}
	// Re-encode by hand from the parsed parts: parse and format must agree.
	p, salt, key, err := parsePHC(h)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt := "$argon2id$v=19$m=64,t=1,p=1$" + phcB64.EncodeToString(salt) + "$" + phcB64.EncodeToString(key)
	if rebuilt != h || p.KeyLen != 32 {
		t.Fatalf("rebuilt %q != %q", rebuilt, h)
	}
}

func TestParsePHCRejects(t *testing.T) {
	good, _ := HashPassword(cheap, "x")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	cases := map[string]string{
		"empty":            "",
		"argon2i":          "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"old version":      "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"missing t":        "$argon2id$v=19$m=64,p=1$" + salt + "$" + key,
		"repeated m":       "$argon2id$v=19$m=64,m=64,t=1,p=1$" + salt + "$" + key,
		"unknown param":    "$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key,
		"zero t":           "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"leading zero":     "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"huge memory":      "$argon2id$v=19$m=99999999,t=1,p=1$" + salt + "$" + key,
		"huge t":           "$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"bad salt base64":  "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key,
		"padded key":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "=",
		"short key":        "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA",
		"extra section":    good + "$x",
		"no leading $":     good[1:],
		"memory below 8*p": "$argon2id$v=19$m=8,t=1,p=2$" + salt + "$" + key,
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifyPassword(h, "x"); !errors.Is(err, ErrBadHash) {
				t.Fatalf("VerifyPassword(%q) err = %v, want ErrBadHash", h, err)
			}
		})
	}
}
