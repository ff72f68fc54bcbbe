package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"caas.dev/shared/fault"
)

// Wrapped data key format of FileMaster, version 1:
//
//	0x01 ‖ 12-byte nonce ‖ AES-256-GCM(master key, data key) with its 16-byte tag
//
// The associated data is fileWrapLabel 0x00, the format byte, then the encryption context in
// canonical form (see appendContext), so a blob opens only with the context it was made with.
const (
	fileWrapV1    byte = 1
	fileWrapLabel      = "caas:filemaster"
	fileWrapSize       = 1 + nonceSize + dataKeySize + tagSize
	// masterKeySize is the size of the key a master key file holds.
	masterKeySize = 32
)

// FileMaster is a MasterKey kept in a local file, for development and tests: the file holds 32
// random bytes as base64 text and must be readable by its owner only. It is safe for concurrent
// use.
type FileMaster struct {
	id   string
	aead cipher.AEAD
}

var _ MasterKey = (*FileMaster)(nil)

// OpenFileMaster reads the master key file at path, creating it (mode 0600, and its directory
// with mode 0700 when missing) with a new random key when it does not exist. Processes that
// race to create it agree on one key: the file appears complete or not at all, and the losers
// read the winner's. It refuses a file that its group or others may read or write, and one that
// does not hold a base64-encoded 32-byte key.
func OpenFileMaster(path string) (*FileMaster, error) {
	key, err := readMasterFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createMasterFile(path); err != nil {
			return nil, err
		}
		key, err = readMasterFile(path)
	}
	if err != nil {
		return nil, err
	}

	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	sum := sha256.Sum256(key)
	return &FileMaster{id: "file:" + hex.EncodeToString(sum[:])[:16], aead: aead}, nil
}

// readMasterFile returns the key in the file at path; an error wrapping fs.ErrNotExist when
// there is no such file.
func readMasterFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits to check.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: its group and others must have "+
			"no access (chmod 600 %s)", path, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != masterKeySize {
		// The content is not quoted: it may be a key.
		return nil, fmt.Errorf("master key file %s is malformed: want %d random bytes in base64 "+
			"and a newline", path, masterKeySize)
	}
	return key, nil
}

// createMasterFile writes a new random key to path unless a file is there already. The key is
// written to a temporary file first and linked into place, so no reader ever sees a partial
// file and, of two racing writers, exactly one wins.
func createMasterFile(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create master key directory: %w", err)
	}
	key := make([]byte, masterKeySize)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generate master key: %w", err)
	}

	tmp, err := os.CreateTemp(dir, ".caas-master-*")
	if err != nil {
		return fmt.Errorf("create master key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("create master key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write master key file: %w", err)
	}
	// A hard link, unlike a rename, fails when the target exists: the first writer's key stays.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create master key file: %w", err)
	}
	return nil
}

// ID names the key: "file:" and the first 16 hex digits of the SHA-256 of the key.
func (m *FileMaster) ID() string { return m.id }

// GenerateDataKey returns a new 32-byte data key and the key sealed under the master key for
// the encryption context.
func (m *FileMaster) GenerateDataKey(_ context.Context, encryptionContext map[string]string) (plain, wrapped []byte, err error) {
	plain = make([]byte, dataKeySize)
	if _, err := rand.Read(plain); err != nil {
		return nil, nil, fmt.Errorf("generate data key: %w", err)
	}
	wrapped = make([]byte, 1+nonceSize, fileWrapSize)
	wrapped[0] = fileWrapV1
	if _, err := rand.Read(wrapped[1:]); err != nil {
		return nil, nil, fmt.Errorf("generate data key nonce: %w", err)
	}
	wrapped = m.aead.Seal(wrapped, wrapped[1:], plain, fileWrapAD(fileWrapV1, encryptionContext))
	return plain, wrapped, nil
}

// Decrypt opens a data key GenerateDataKey wrapped; an error wrapping ErrUnwrap when wrapped
// was altered, made by another master key, or made with another encryption context.
func (m *FileMaster) Decrypt(_ context.Context, wrapped []byte, encryptionContext map[string]string) ([]byte, error) {
	if len(wrapped) != fileWrapSize || wrapped[0] != fileWrapV1 {
		return nil, fault.Wrap(ErrUnwrap, errors.New("file master key: not a wrapped data key of a known format"))
	}
	plain, err := m.aead.Open(nil, wrapped[1:1+nonceSize], wrapped[1+nonceSize:], fileWrapAD(wrapped[0], encryptionContext))
	if err != nil {
		return nil, fault.Wrap(ErrUnwrap, fmt.Errorf("file master key %s: %w", m.id, err))
	}
	return plain, nil
}

// fileWrapAD is the associated data of a wrapped data key of the given format.
func fileWrapAD(format byte, encryptionContext map[string]string) []byte {
	ad := append([]byte(fileWrapLabel), 0, format)
	return appendContext(ad, encryptionContext)
}

// appendContext appends the canonical form of an encryption context: the number of entries,
// then each key and its value in ascending order of key, every count and length as a 4-byte
// big-endian integer, so no two contexts encode alike.
func appendContext(b []byte, encryptionContext map[string]string) []byte {
	names := make([]string, 0, len(encryptionContext))
	for k := range encryptionContext {
		names = append(names, k)
	}
	slices.Sort(names)
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, k := range names {
		v := encryptionContext[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}
