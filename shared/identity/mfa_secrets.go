package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// SecretBox encrypts TOTP secrets at rest with AES-256-GCM under one local key; the
// associated data binds each ciphertext to its tenant and user, so a ciphertext copied to
// another account does not open. The key service of a later issue replaces the local key.
type SecretBox struct {
	aead cipher.AEAD
}

// SecretsKeyEnv is the variable holding the key: 32 bytes, standard or URL base64.
const SecretsKeyEnv = "CAAS_SECRETS_KEY"

// NewSecretBoxFromEnv reads the key from CAAS_SECRETS_KEY through getenv. There is no
// fallback: a function that keeps secrets does not start without its key.
func NewSecretBoxFromEnv(getenv func(string) string) (*SecretBox, error) {
	v := getenv(SecretsKeyEnv)
	if v == "" {
		return nil, errors.New(SecretsKeyEnv + " is required (32 bytes, base64)")
	}
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(v); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not base64", SecretsKeyEnv)
	}
	return NewSecretBox(key)
}

// NewSecretBox returns a box using key, which must be 32 bytes.
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret box: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret box: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret box: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

func secretAD(tenantID, userID string) []byte {
	return []byte("caas/totp/v1\x00" + tenantID + "\x00" + userID)
}

// Seal encrypts secret for the user; the result is nonce || ciphertext.
func (b *SecretBox) Seal(tenantID, userID string, secret []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return b.aead.Seal(nonce, nonce, secret, secretAD(tenantID, userID)), nil
}

// Open decrypts what Seal returned for the same tenant and user.
func (b *SecretBox) Open(tenantID, userID string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("open secret: too short")
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], secretAD(tenantID, userID))
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	return out, nil
}
