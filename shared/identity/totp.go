package identity

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"time"
)

// TOTPAlgorithm names the HMAC hash of a TOTP code (RFC 6238 §1.2).
type TOTPAlgorithm string

// The hashes RFC 6238 allows.
const (
	TOTPSHA1   TOTPAlgorithm = "SHA1"
	TOTPSHA256 TOTPAlgorithm = "SHA256"
	TOTPSHA512 TOTPAlgorithm = "SHA512"
)

// TOTPParams describe how codes are made from a secret.
type TOTPParams struct {
	Algorithm TOTPAlgorithm
	Digits    int
	Period    time.Duration
	// Skew is how many time steps either side of now are accepted.
	Skew int
}

// DefaultTOTP is what enrolment gives: what every authenticator app understands.
var DefaultTOTP = TOTPParams{Algorithm: TOTPSHA1, Digits: 6, Period: 30 * time.Second, Skew: 1}

func (p TOTPParams) newHash() (func() hash.Hash, error) {
	switch p.Algorithm {
	case TOTPSHA1, "":
		return sha1.New, nil
	case TOTPSHA256:
		return sha256.New, nil
	case TOTPSHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("totp: unknown algorithm %q", p.Algorithm)
}

// Step returns the time step of t (RFC 6238 T).
func (p TOTPParams) Step(t time.Time) int64 {
	return t.Unix() / int64(p.Period/time.Second)
}

// TOTPCode returns the code of secret at time step step (RFC 4226 HOTP with the step as counter).
func TOTPCode(p TOTPParams, secret []byte, step int64) (string, error) {
	h, err := p.newHash()
	if err != nil {
		return "", err
	}
	if p.Digits < 6 || p.Digits > 10 {
		return "", fmt.Errorf("totp: %d digits is out of range", p.Digits)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(h, secret)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := uint64(binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff)
	mod := uint64(1)
	for i := 0; i < p.Digits; i++ {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", p.Digits, bin%mod), nil
}

// VerifyTOTP checks code against secret at now, accepting p.Skew steps either side, and
// returns the step it matched. Every candidate is compared in constant time.
func VerifyTOTP(p TOTPParams, secret []byte, code string, now time.Time) (step int64, ok bool, err error) {
	if len(code) != p.Digits {
		return 0, false, nil
	}
	cur := p.Step(now)
	for d := -p.Skew; d <= p.Skew; d++ {
		want, err := TOTPCode(p, secret, cur+int64(d))
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			step, ok = cur+int64(d), true
		}
	}
	return step, ok, nil
}
