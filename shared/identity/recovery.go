package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"strings"
)

// RecoveryCodeCount is how many recovery codes confirming MFA gives.
const RecoveryCodeCount = 10

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryCodes returns n codes of 50 random bits each, written "xxxxx-xxxxx" in lower case.
func NewRecoveryCodes(n int) ([]string, error) {
	codes := make([]string, n)
	for i := range codes {
		b := make([]byte, 7)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("recovery codes: %w", err)
		}
		s := strings.ToLower(recoveryEncoding.EncodeToString(b))[:10]
		codes[i] = s[:5] + "-" + s[5:]
	}
	return codes, nil
}

// HashRecoveryCode is the stored form of a recovery code: SHA-256 over the tenant, the user and
// the code without separators or case, so a hash names one code of one account. The codes are
// random and 50 bits long, so a fast hash is enough.
func HashRecoveryCode(tenantID, userID, code string) string {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte("caas/recovery/v1\x00" + tenantID + "\x00" + userID + "\x00" + c))
	return hex.EncodeToString(sum[:])
}
