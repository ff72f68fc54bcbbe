package audit

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Object is a JSON object in the canonical encoding. Its values are strings, int64 integers
// (within ±2^53-1, so every JSON reader holds them exactly) or nested Objects: the only kinds
// an audit record or a checkpoint holds.
type Object map[string]any

// maxSafeInteger is 2^53-1, the largest integer an IEEE 754 double holds exactly.
const maxSafeInteger = 1<<53 - 1

// Canonical returns the RFC 8785 (JSON Canonicalization Scheme) encoding of o: members sorted
// by their names compared as UTF-16 code units, no whitespace, strings escaped as ECMAScript's
// JSON.stringify does (\" \\ \b \f \n \r \t, other controls as \u00xx in lower case hex, all
// else as UTF-8), integers in plain decimal. It fails on a value of another kind, an integer
// out of range, or a string that is not valid UTF-8.
func Canonical(o Object) ([]byte, error) {
	return appendObject(make([]byte, 0, 512), o)
}

func appendObject(b []byte, o Object) ([]byte, error) {
	names := make([]string, 0, len(o))
	for k := range o {
		names = append(names, k)
	}
	slices.SortFunc(names, compareUTF16)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendValue(b, o[k]); err != nil {
			return nil, fmt.Errorf("member %q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case int64:
		if v > maxSafeInteger || v < -maxSafeInteger {
			return nil, fmt.Errorf("integer %d out of the exact range", v)
		}
		return strconv.AppendInt(b, v, 10), nil
	case int:
		return appendValue(b, int64(v))
	case Object:
		return appendObject(b, v)
	case map[string]string:
		o := make(Object, len(v))
		for k, s := range v {
			o[k] = s
		}
		return appendObject(b, o)
	default:
		return nil, fmt.Errorf("value of type %T has no canonical encoding", v)
	}
}

// appendString writes s as a JSON string the way RFC 8785 §3.2.2.2 requires.
func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("string is not valid UTF-8")
	}
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"'), nil
}

// compareUTF16 orders member names by their UTF-16 code units, as RFC 8785 §3.2.3 sorts them
// (it differs from byte order only for characters above U+FFFF against U+E000..U+FFFF).
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return cmp.Compare(utf16Key(ra), utf16Key(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}

// utf16Key returns an ordering key of r equal to its UTF-16 encoding read as a number: the
// code unit itself inside the BMP, the surrogate pair (high<<16 | low) above it.
func utf16Key(r rune) uint32 {
	if r < 0x10000 {
		return uint32(r) << 16
	}
	hi, lo := utf16.EncodeRune(r)
	return uint32(hi)<<16 | uint32(lo)
}

// GenesisHash is the previous_hash of a chain's first record: 32 zero bytes, hex encoded.
var GenesisHash = hex.EncodeToString(make([]byte, sha256.Size))

// chainHash is hex(SHA-256(previous hash bytes ‖ canonical)).
func chainHash(previousHash string, canonical []byte) (string, error) {
	prev, err := hex.DecodeString(previousHash)
	if err != nil || len(prev) != sha256.Size {
		return "", fmt.Errorf("previous hash is not 32 hex-encoded bytes")
	}
	h := sha256.New()
	h.Write(prev)
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil)), nil
}
