package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Ciphertext format, version 1:
//
//	caas:v1:<key name>:<key version>:<base64url, unpadded, of nonce ‖ sealed bytes ‖ tag>
//
// The sealed bytes are AES-256-GCM with a 96-bit random nonce and a 128-bit tag. The associated
// data is
//
//	"caas:v1" 0x00 tenant id 0x00 key name 0x00 key version (decimal) 0x00 context
//
// so the header's every field, the tenant and the caller's context are authenticated: a
// ciphertext moved to another tenant, key, version or context does not open.
const (
	formatPrefix = "caas:v1:"
	nonceSize    = 12
	tagSize      = 16
	// dataKeySize is the size of every data key: AES-256.
	dataKeySize = 32
)

// Header is the readable part of a ciphertext.
type Header struct {
	Name    string
	Version int
}

// ParseCiphertext splits a ciphertext into its header and its sealed bytes (nonce first). It
// checks only the form; ErrInvalidCiphertext when the form is wrong.
func ParseCiphertext(ct string) (Header, []byte, error) {
	rest, ok := strings.CutPrefix(ct, formatPrefix)
	if !ok {
		return Header{}, nil, ErrInvalidCiphertext
	}
	name, rest, ok := strings.Cut(rest, ":")
	if !ok || !ValidName(name) {
		return Header{}, nil, ErrInvalidCiphertext
	}
	ver, body, ok := strings.Cut(rest, ":")
	if !ok || ver == "" || len(ver) > 9 || ver[0] == '0' {
		return Header{}, nil, ErrInvalidCiphertext
	}
	v, err := strconv.Atoi(ver)
	if err != nil || v < 1 {
		return Header{}, nil, ErrInvalidCiphertext
	}
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(sealed) < nonceSize+tagSize {
		return Header{}, nil, ErrInvalidCiphertext
	}
	return Header{Name: name, Version: v}, sealed, nil
}

// formatCiphertext is the inverse of ParseCiphertext.
func formatCiphertext(h Header, sealed []byte) string {
	buf := make([]byte, 0, len(formatPrefix)+len(h.Name)+12+base64.RawURLEncoding.EncodedLen(len(sealed)))
	buf = append(buf, formatPrefix...)
	buf = append(buf, h.Name...)
	buf = append(buf, ':')
	buf = strconv.AppendInt(buf, int64(h.Version), 10)
	buf = append(buf, ':')
	return string(base64.RawURLEncoding.AppendEncode(buf, sealed))
}

// associatedData is the AEAD associated data of a ciphertext (see the format above).
func associatedData(tenantID string, h Header, context []byte) []byte {
	ad := make([]byte, 0, len("caas:v1")+len(tenantID)+len(h.Name)+len(context)+16)
	ad = append(ad, "caas:v1"...)
	ad = append(ad, 0)
	ad = append(ad, tenantID...)
	ad = append(ad, 0)
	ad = append(ad, h.Name...)
	ad = append(ad, 0)
	ad = strconv.AppendInt(ad, int64(h.Version), 10)
	ad = append(ad, 0)
	return append(ad, context...)
}

// newMaterial returns AES-256-GCM under a data key, and the MAC key derived from it (HKDF-SHA256,
// info "caas:mac:v1"), so a MAC dies with its key too.
func newMaterial(key []byte) (*material, error) {
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("data key is %d bytes, want %d", len(key), dataKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, "caas:mac:v1", sha256.Size)
	if err != nil {
		return nil, err
	}
	return &material{aead: aead, macKey: macKey}, nil
}

// seal encrypts plaintext under aead for the tenant, header and context, and returns the
// ciphertext string.
func seal(aead cipher.AEAD, tenantID string, h Header, plaintext, context []byte) (string, error) {
	buf := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:nonceSize], plaintext, associatedData(tenantID, h, context))
	return formatCiphertext(h, buf), nil
}

// open decrypts the sealed bytes of a ciphertext with header h; ErrDecrypt when they, the
// tenant, the header or the context were changed.
func open(aead cipher.AEAD, tenantID string, h Header, sealed, context []byte) ([]byte, error) {
	out, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], associatedData(tenantID, h, context))
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}
