// Package keys is the platform's key service: envelope encryption with named, versioned keys
// per tenant, in the manner of a transit engine. Every version of a key has its own AES-256
// data key, stored only wrapped: a tenant key's data keys by the master key (AWS KMS, or a
// local key file in development), a user's key's data keys by the tenant's key-encryption key
// (KEKName), so one master-key call opens every user key of a tenant, and deleting a user's key
// (Shred) makes everything sealed under it unreadable.
//
// A ciphertext names its key and version (see Ciphertext); its associated data binds the
// tenant, the key, the version and a caller-supplied context, so changing any byte of it, or
// opening it for another tenant or context, fails with ErrDecrypt. Plain data keys live only in
// this process's memory, in a cache bounded by count and age.
package keys

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"caas.dev/shared/fault"
)

// Names of the keys the platform makes for itself. Names starting with ReservedPrefix cannot be
// created, nor used for encryption or decryption, through the API.
const (
	ReservedPrefix = "caas."
	// KEKName is the tenant's key-encryption key: it wraps the data keys of its users' keys.
	KEKName = "caas.kek"
	// SecretsKeyName is the tenant's key for secrets the platform keeps (TOTP seeds).
	SecretsKeyName = "caas.secrets"
	// userKeyPrefix starts the name of a user's own key; the user id follows.
	userKeyPrefix = "caas.user."
)

// UserKeyName is the name of the key of the user with the id.
func UserKeyName(userID string) string { return userKeyPrefix + userID }

// UserOf returns the user id of a user key's name, ok=false for other names.
func UserOf(name string) (userID string, ok bool) {
	userID, ok = strings.CutPrefix(name, userKeyPrefix)
	if !ok || userID == "" {
		return "", false
	}
	return userID, true
}

// Roles a caller may hold. RoleAdmin is a tenant administrator (the tenant API key, or a user
// the tenant made admin); RoleUser an ordinary user.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// KnownRoles are the roles a key's policy may name.
var KnownRoles = []string{RoleAdmin, RoleUser}

// Limits of the API.
const (
	// MaxNameLength bounds a key name.
	MaxNameLength = 128
	// MaxBatch is the most items one encrypt, decrypt or rewrap call may carry.
	MaxBatch = 100
	// MaxContextLength bounds the caller-supplied context, in bytes.
	MaxContextLength = 1024
	// MaxPlaintext bounds one item's plaintext, in bytes.
	MaxPlaintext = 4 << 20
	// MinRotationPeriod is the shortest automatic rotation period a key may have.
	MinRotationPeriod = time.Hour
)

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ValidName reports whether name is a well-formed key name: lower-case letters, digits, '.',
// '_' and '-', starting with a letter or digit, at most MaxNameLength bytes.
func ValidName(name string) bool { return len(name) <= MaxNameLength && nameRE.MatchString(name) }

// Reserved reports whether name belongs to the platform.
func Reserved(name string) bool { return strings.HasPrefix(name, ReservedPrefix) }

// Key is a named key of a tenant and its versions. The newest version is the primary: it
// encrypts. Versions below MinDecryptionVersion are retired: they no longer decrypt.
type Key struct {
	TenantID string
	Name     string
	// Owner is the user whose key this is, empty for a tenant key.
	Owner    string
	Versions []Version // ascending by Version, from 1 with no gaps
	Policy
	CreatedAt time.Time
	UpdatedAt time.Time
	// ShreddedAt is set once the key is destroyed: its versions are gone and nothing sealed
	// under it can be opened again.
	ShreddedAt time.Time
}

// Policy is what an administrator may change on a key.
type Policy struct {
	// MinDecryptionVersion is the oldest version that still decrypts (at least 1).
	MinDecryptionVersion int
	// RotationPeriod is how often a new version is made by the scheduled rotation; zero means
	// only by hand.
	RotationPeriod time.Duration
	// EncryptRoles and DecryptRoles are the roles that may encrypt (and rewrap) and decrypt
	// with the key through the API.
	EncryptRoles []string
	DecryptRoles []string
}

// Primary returns the newest version number, 0 when the key has none (a shredded key).
func (k Key) Primary() int {
	if len(k.Versions) == 0 {
		return 0
	}
	return k.Versions[len(k.Versions)-1].Version
}

// Version returns the key's version v.
func (k Key) Version(v int) (Version, bool) {
	i, found := slices.BinarySearchFunc(k.Versions, v, func(x Version, v int) int { return x.Version - v })
	if !found {
		return Version{}, false
	}
	return k.Versions[i], true
}

// NextRotation is when the scheduled rotation next makes a version, zero when it never does.
func (k Key) NextRotation() time.Time {
	if k.RotationPeriod <= 0 || len(k.Versions) == 0 || !k.ShreddedAt.IsZero() {
		return time.Time{}
	}
	return k.Versions[len(k.Versions)-1].CreatedAt.Add(k.RotationPeriod)
}

// Version is one version of a key: its data key, wrapped.
type Version struct {
	Version int
	// Wrapped is the data key as the wrapping key sealed it.
	Wrapped []byte
	// WrappedBy names the wrapping key: "master:<master key id>" for a data key the master key
	// wraps, "key:<name>:<version>" for one a tenant key (the KEK) wraps.
	WrappedBy string
	CreatedAt time.Time
}

// KeyRef names a key of a tenant.
type KeyRef struct {
	TenantID string
	Name     string
}

// Store keeps keys in their own database, apart from everything they protect. Versions are
// added by inserting under a unique (tenant, name, version), so concurrent rotations of a key
// never both make the same version nor lose one.
type Store interface {
	// CreateKey stores k with its first version (k.Versions holds exactly it). It returns
	// ErrKeyExists when the tenant has a key of that name, shredded or not.
	CreateKey(ctx context.Context, k Key) error

	// Key returns the tenant's key with every version, ascending; ErrKeyNotFound when there is
	// none. A shredded key is returned with no versions and ShreddedAt set.
	Key(ctx context.Context, tenantID, name string) (Key, error)

	// ListKeys returns up to limit of the tenant's keys that have no owner, ordered by name,
	// whose names sort after afterName (empty: from the first).
	ListKeys(ctx context.Context, tenantID, afterName string, limit int) ([]Key, error)

	// AddVersion stores v as a new version of the key. It returns ErrVersionExists when the
	// key has a version v.Version already, ErrKeyNotFound when there is no such key, and
	// ErrKeyShredded when the key is shredded.
	AddVersion(ctx context.Context, tenantID, name string, v Version) error

	// SetPolicy replaces the key's policy and sets UpdatedAt; ErrKeyNotFound when there is no
	// such key.
	SetPolicy(ctx context.Context, tenantID, name string, p Policy, at time.Time) error

	// RewrapVersion replaces the wrapped data key of one version (the same data key, wrapped
	// anew); ErrKeyNotFound when the key or version is gone.
	RewrapVersion(ctx context.Context, tenantID, name string, version int, wrapped []byte, wrappedBy string) error

	// Shred deletes every version of the key and marks it shredded at the given time. It is
	// idempotent; ErrKeyNotFound when there is no such key.
	Shred(ctx context.Context, tenantID, name string, at time.Time) error

	// DueForRotation returns up to limit keys of any tenant, not shredded, with a rotation
	// period whose next rotation is at or before now.
	DueForRotation(ctx context.Context, now time.Time, limit int) ([]KeyRef, error)

	// WrappedBy returns up to limit keys of the tenant having a version wrapped by a version of
	// the named key older than below, for the job that moves them to its primary version.
	WrappedBy(ctx context.Context, tenantID, wrappingName string, below int, limit int) ([]KeyRef, error)

	// KeysNamed returns up to limit keys of any tenant with the given name, ordered by tenant,
	// whose tenants sort after afterTenantID: the platform jobs walk the tenants' KEKs with it.
	KeysNamed(ctx context.Context, name, afterTenantID string, limit int) ([]KeyRef, error)
}

// MasterKey wraps and unwraps data keys. The encryption context names the tenant, key and
// version a data key belongs to; unwrapping with any other context fails.
type MasterKey interface {
	// ID names the master key; it is stored beside every data key it wraps.
	ID() string
	// GenerateDataKey returns a new 32-byte data key, in plain and wrapped form.
	GenerateDataKey(ctx context.Context, encryptionContext map[string]string) (plain, wrapped []byte, err error)
	// Decrypt returns the data key wrapped, or an error wrapping ErrUnwrap when wrapped is not
	// a data key this master key made with this context.
	Decrypt(ctx context.Context, wrapped []byte, encryptionContext map[string]string) ([]byte, error)
}

// Failures of the key service. Their codes are part of the API contract.
var (
	ErrKeyNotFound   = fault.New(fault.NotFound, "key_not_found", "the key does not exist")
	ErrKeyExists     = fault.New(fault.Conflict, "key_exists", "a key with this name exists already")
	ErrVersionExists = fault.New(fault.Conflict, "key_version_exists", "the key has this version already")
	ErrKeyShredded   = fault.New(fault.Conflict, "key_shredded",
		"the key was destroyed; what it encrypted can no longer be decrypted")
	ErrInvalidName = fault.New(fault.Invalid, "invalid_key_name",
		"a key name is 1 to 128 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	ErrReservedKey = fault.New(fault.Forbidden, "reserved_key",
		"keys whose names start with \"caas.\" belong to the platform and cannot be used this way")
	ErrForbidden = fault.New(fault.Forbidden, "key_forbidden",
		"your role may not use this key for this operation")
	ErrNotAdmin = fault.New(fault.Forbidden, "admin_required",
		"only a tenant administrator may manage keys")
	ErrInvalidCiphertext = fault.New(fault.Invalid, "invalid_ciphertext",
		"the ciphertext is not one this service produced")
	ErrDecrypt = fault.New(fault.Invalid, "decryption_failed",
		"the ciphertext does not open with its key and this context: it was altered, or the context differs")
	ErrVersionRetired = fault.New(fault.Invalid, "key_version_retired",
		"the ciphertext's key version is below the key's minimum decryption version")
	ErrVersionNotFound = fault.New(fault.Invalid, "key_version_not_found",
		"the ciphertext names a version the key does not have")
	ErrInvalidPolicy = fault.New(fault.Invalid, "invalid_key_policy", "the key policy is not valid")
	// ErrVersionInUse is returned for retiring a version that stopped being the primary so
	// recently that function instances may still be encrypting with it.
	ErrVersionInUse = fault.New(fault.Conflict, "key_version_in_use",
		"a version that was the primary moments ago may still be encrypting elsewhere; retry after the delay given")
	ErrUnwrap         = fault.New(fault.Internal, "unwrap_failed", "a data key could not be unwrapped")
	ErrBatchTooLarge  = fault.New(fault.Invalid, "batch_too_large", "a batch holds at most 100 items")
	ErrTooLarge       = fault.New(fault.TooLarge, "plaintext_too_large", "a plaintext is at most 4 MiB")
	ErrContextTooLong = fault.New(fault.Invalid, "context_too_long", "a context is at most 1024 bytes")
)
