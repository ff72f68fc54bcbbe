package identity

import (
	_ "embed"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Limits of the registration fields. Lengths are Unicode code points.
const (
	MinPasswordLen    = 12
	MaxPasswordLen    = 128
	MaxDisplayNameLen = 100
	maxEmailLen       = 254
	maxLocalLen       = 64
	maxLabelLen       = 63
)

// NormalizeEmail trims surrounding white space, lower-cases the whole address and validates it,
// returning ErrInvalidEmail (with a precise detail) when it is not acceptable.
//
// The local part is lower-cased too, although RFC 5321 lets a server treat it as case
// sensitive: no mainstream mail provider does, and users type their address with varying
// case, so keeping case would let "Ann@x.io" and "ann@x.io" become two accounts and make login
// depend on the capitalisation used at registration. Dots and "+tags" are kept: they are
// meaningful at some providers.
//
// Accepted: a dot-atom local part (letters of any script, digits and !#$%&'*+/=?^_`{|}~-,
// dots not leading, trailing or doubled), and an ASCII domain of at least two labels (IDN
// domains in their xn-- form). Quoted local parts and address literals are refused.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", withDetail(ErrInvalidEmail, "email: is required")
	}
	if len(s) > maxEmailLen || !utf8.ValidString(s) {
		return "", withDetail(ErrInvalidEmail, "email: is longer than 254 bytes")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", withDetail(ErrInvalidEmail, "email: has no @")
	}
	local, domain := s[:at], s[at+1:]
	if !validLocal(local) {
		return "", withDetail(ErrInvalidEmail, "email: the part before @ is not valid")
	}
	if !validDomain(domain) {
		return "", withDetail(ErrInvalidEmail, "email: the domain is not valid")
	}
	return s, nil
}

func validLocal(s string) bool {
	if s == "" || len(s) > maxLocalLen || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9'):
		case strings.ContainsRune("!#$%&'*+/=?^_`{|}~-.", r):
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return false
		}
	}
	return true
}

func validDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	// A top-level domain is never all digits; this refuses bare IPv4 addresses.
	tld := labels[len(labels)-1]
	return strings.Trim(tld, "0123456789") != ""
}

// CheckPassword applies the password policy: 12 to 128 code points of valid UTF-8, and not one
// of the common passwords of common_passwords.txt (compared case-insensitively). Nothing is
// trimmed: a password is compared byte for byte.
func CheckPassword(p string) error {
	if !utf8.ValidString(p) {
		return withDetail(ErrWeakPassword, "password: is not valid UTF-8")
	}
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen {
		return withDetail(ErrWeakPassword, "password: must be at least 12 characters")
	}
	if n > MaxPasswordLen {
		return withDetail(ErrWeakPassword, "password: must be at most 128 characters")
	}
	if IsCommonPassword(p) {
		return withDetail(ErrWeakPassword, "password: is too common: it is on the list of common passwords")
	}
	return nil
}

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the set of common_passwords.txt, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for _, line := range strings.Split(commonPasswordsFile, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// IsCommonPassword reports whether p, lower-cased, is on the shipped list of common passwords.
func IsCommonPassword(p string) bool {
	_, ok := commonPasswords()[strings.ToLower(p)]
	return ok
}

// NormalizeDisplayName trims surrounding white space and checks that what remains is 1 to 100
// code points with no control or format characters (which could hide text or reorder it).
func NormalizeDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", withDetail(ErrInvalidDisplayName, "display_name: is required")
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayNameLen {
		return "", withDetail(ErrInvalidDisplayName, "display_name: must be at most 100 characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", withDetail(ErrInvalidDisplayName, "display_name: must not contain control characters")
		}
	}
	return s, nil
}
