// Package ids makes the platform's identifiers: a short type prefix, an underscore, and 26
// characters of Crockford base32 holding a 48-bit millisecond timestamp followed by 80 random
// bits. Ids therefore sort by creation time as strings, and a reader of a log knows what an id
// names ("usr_01J…" is a user).
package ids

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// Prefixes of the platform's identifiers.
const (
	Tenant       = "ten"
	User         = "usr"
	Conversation = "cnv"
	Message      = "msg"
	Session      = "ses"
	Key          = "key"
	Consent      = "cns"
	AuditRecord  = "aud"
	Export       = "exp"
	Erasure      = "era"
	LegalHold    = "hld"
	Media        = "med"
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Generator makes ids; tests substitute their own.
type Generator interface {
	New(prefix string) string
}

// Random is the production generator: time from the system clock, bits from crypto/rand.
type Random struct{}

// New returns a fresh id with the given prefix.
func (Random) New(prefix string) string { return Make(prefix, time.Now(), nil) }

// Make builds an id from a time and 10 random bytes (read from crypto/rand when entropy is nil).
func Make(prefix string, t time.Time, entropy []byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	if len(entropy) >= 10 {
		copy(b[6:], entropy[:10])
	} else if _, err := rand.Read(b[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	var sb strings.Builder
	sb.Grow(len(prefix) + 27)
	sb.WriteString(prefix)
	sb.WriteByte('_')
	// 128 bits as 26 base32 digits, the first holding the top 3 bits.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	sb.Write(out[:])
	return sb.String()
}

// Valid reports whether s is a well-formed id with the given prefix. It says nothing about
// whether the id names anything.
func Valid(prefix, s string) bool {
	if len(s) != len(prefix)+27 || !strings.HasPrefix(s, prefix) || s[len(prefix)] != '_' {
		return false
	}
	for _, c := range s[len(prefix)+1:] {
		if !strings.ContainsRune(alphabet, c) {
			return false
		}
	}
	return s[len(prefix)+1] <= '7'
}
