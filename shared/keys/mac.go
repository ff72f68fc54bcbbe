package keys

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// A MAC is a keyed fingerprint of data, "caas:mac:v1:<key name>:<version>:<base64url of
// HMAC-SHA256>", the HMAC keyed by a key derived from that version's data key. It lets the
// platform tell whether two plaintexts are equal (a retried message against the first) without
// storing either or a plain hash of them, which could be guessed for short texts; shredding the
// key makes the MAC meaningless too.
const macPrefix = "caas:mac:v1:"

// MACForUser returns the MAC of data under the primary version of the user's key, made on first
// use.
func (s *Service) MACForUser(ctx context.Context, tenantID, userID string, data []byte) (string, error) {
	name := UserKeyName(userID)
	k, err := s.keyForUse(ctx, tenantID, name)
	if err != nil {
		return "", err
	}
	m, err := s.material(ctx, k, k.Primary())
	if err != nil {
		return "", err
	}
	return macPrefix + name + ":" + strconv.Itoa(k.Primary()) + ":" +
		base64.RawURLEncoding.EncodeToString(macOf(m.macKey, tenantID, data)), nil
}

// VerifyMAC reports whether mac, as MACForUser made it for the tenant, is the MAC of data. It
// recomputes with the version the MAC names, so a rotation in between does not matter; a MAC
// of a shredded key fails with ErrKeyShredded, a malformed one with ErrInvalidCiphertext.
func (s *Service) VerifyMAC(ctx context.Context, tenantID, mac string, data []byte) (bool, error) {
	rest, ok := strings.CutPrefix(mac, macPrefix)
	if !ok {
		return false, ErrInvalidCiphertext
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 || !ValidName(parts[0]) {
		return false, ErrInvalidCiphertext
	}
	v, err := strconv.Atoi(parts[1])
	if err != nil || v < 1 {
		return false, ErrInvalidCiphertext
	}
	sum, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false, ErrInvalidCiphertext
	}
	k, err := s.keyWithVersion(ctx, tenantID, parts[0], v)
	if err != nil {
		return false, err
	}
	if !k.ShreddedAt.IsZero() {
		return false, ErrKeyShredded
	}
	if _, ok := k.Version(v); !ok {
		return false, ErrVersionNotFound
	}
	m, err := s.material(ctx, k, v)
	if err != nil {
		return false, err
	}
	return hmac.Equal(sum, macOf(m.macKey, tenantID, data)), nil
}

// macOf is HMAC-SHA256 of the tenant id and data under key.
func macOf(key []byte, tenantID string, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(tenantID))
	h.Write([]byte{0})
	h.Write(data)
	return h.Sum(nil)
}
