package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters. Defaults are OWASP's recommendation for
// argon2id with little memory: m=19456 KiB, t=2, p=1.
type Argon2Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     int
	KeyLen      uint32
}

// DefaultArgon2 are the parameters every new password hash uses.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}

// ErrBadHash reports a stored password hash that is not a PHC argon2id string this code can read.
var ErrBadHash = errors.New("password hash is not a valid argon2id PHC string")

var phcB64 = base64.RawStdEncoding

// HashPassword hashes password with argon2id and returns the PHC string
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>", which carries its own parameters so they can
// be raised later without invalidating stored hashes.
func HashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		p.MemoryKiB, p.Iterations, p.Parallelism, phcB64.EncodeToString(salt), phcB64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string hash, recomputing argon2id
// with the hash's own parameters and comparing in constant time. It fails with ErrBadHash when
// hash cannot be parsed.
func VerifyPassword(hash, password string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// Upper bounds on parameters read from a stored hash, so a corrupted or hostile record cannot
// make a login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 1 << 20
	maxIterations = 16
	maxSaltLen    = 64
	maxKeyLen     = 128
)

// parsePHC reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parsePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrBadHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, ErrBadHash
	}
	var seen [3]bool
	for _, kv := range strings.Split(parts[3], ",") {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, ErrBadHash
		}
		n, perr := strconv.ParseUint(val, 10, 32)
		if perr != nil || n == 0 || (val[0] == '0') {
			return p, nil, nil, ErrBadHash
		}
		switch name {
		case "m":
			if seen[0] || n > maxMemoryKiB {
				return p, nil, nil, ErrBadHash
			}
			p.MemoryKiB, seen[0] = uint32(n), true
		case "t":
			if seen[1] || n > maxIterations {
				return p, nil, nil, ErrBadHash
			}
			p.Iterations, seen[1] = uint32(n), true
		case "p":
			if seen[2] || n > 255 {
				return p, nil, nil, ErrBadHash
			}
			p.Parallelism, seen[2] = uint8(n), true
		default:
			return p, nil, nil, ErrBadHash
		}
	}
	if !seen[0] || !seen[1] || !seen[2] || p.MemoryKiB < 8*uint32(p.Parallelism) {
		return p, nil, nil, ErrBadHash
	}
	salt, err = phcB64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return p, nil, nil, ErrBadHash
	}
	key, err = phcB64.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, ErrBadHash
	}
	p.SaltLen, p.KeyLen = len(salt), uint32(len(key))
	return p, salt, key, nil
}
