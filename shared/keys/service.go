package keys

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"caas.dev/shared/clock"
)

// Config is what a Service needs. Store and Master are required; the rest default.
type Config struct {
	Store  Store
	Master MasterKey
	Clock  clock.Clock
	// DataKeyTTL and MaxDataKeys bound the cache of unwrapped data keys; MetadataTTL how long
	// a key's versions and policy are trusted before being read again.
	DataKeyTTL  time.Duration
	MaxDataKeys int
	MetadataTTL time.Duration
}

// Service encrypts and decrypts with a tenant's keys and manages them.
type Service struct {
	store    Store
	master   MasterKey
	clock    clock.Clock
	dataKeys *dataKeyCache
	meta     *metadataCache
	metaTTL  time.Duration
}

// New returns a Service over c.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Master == nil {
		return nil, errors.New("keys: a store and a master key are required")
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.DataKeyTTL <= 0 {
		c.DataKeyTTL = DefaultDataKeyTTL
	}
	if c.MaxDataKeys <= 0 {
		c.MaxDataKeys = DefaultMaxDataKeys
	}
	if c.MetadataTTL <= 0 {
		c.MetadataTTL = DefaultMetadataTTL
	}
	return &Service{
		store:    c.Store,
		master:   c.Master,
		clock:    c.Clock,
		dataKeys: newDataKeyCache(c.MaxDataKeys, c.DataKeyTTL),
		meta:     &metadataCache{ttl: c.MetadataTTL},
		metaTTL:  c.MetadataTTL,
	}, nil
}

// now is the service's time at the precision the store keeps.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// Encrypt seals plaintext under the primary version of the tenant's key name, bound to
// context. A platform key (KEKName, SecretsKeyName, a user's key) is made on first use; any
// other key must exist (ErrKeyNotFound). No role is checked: this is the platform's own use.
func (s *Service) Encrypt(ctx context.Context, tenantID, name string, plaintext, context []byte) (string, error) {
	if len(context) > MaxContextLength {
		return "", ErrContextTooLong
	}
	k, err := s.keyForUse(ctx, tenantID, name)
	if err != nil {
		return "", err
	}
	h := Header{Name: name, Version: k.Primary()}
	m, err := s.material(ctx, k, h.Version)
	if err != nil {
		return "", err
	}
	ct, err := seal(m.aead, tenantID, h, plaintext, context)
	if err != nil {
		return "", fmt.Errorf("encrypt: %w", err)
	}
	return ct, nil
}

// EncryptForUser seals plaintext under the user's own key, made on first use.
func (s *Service) EncryptForUser(ctx context.Context, tenantID, userID string, plaintext, context []byte) (string, error) {
	return s.Encrypt(ctx, tenantID, UserKeyName(userID), plaintext, context)
}

// Decrypt opens a ciphertext of the tenant's with the key and version it names. It fails with
// ErrInvalidCiphertext for a malformed one, ErrKeyNotFound, ErrKeyShredded, ErrVersionNotFound,
// ErrVersionRetired, or ErrDecrypt when it was altered or the context differs.
func (s *Service) Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error) {
	pt, _, err := s.decrypt(ctx, tenantID, ciphertext, context)
	return pt, err
}

func (s *Service) decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, Key, error) {
	h, sealed, err := ParseCiphertext(ciphertext)
	if err != nil {
		return nil, Key{}, err
	}
	k, err := s.keyWithVersion(ctx, tenantID, h.Name, h.Version)
	if err != nil {
		return nil, Key{}, err
	}
	if err := usable(k, h.Version); err != nil {
		return nil, Key{}, err
	}
	m, err := s.material(ctx, k, h.Version)
	if err != nil {
		return nil, Key{}, err
	}
	pt, err := open(m.aead, tenantID, h, sealed, context)
	if err != nil {
		return nil, Key{}, err
	}
	return pt, k, nil
}

// Rewrap returns the ciphertext sealed again under its key's primary version, with the same
// context, and whether it changed; a ciphertext of the primary version comes back as it is.
// The plaintext never leaves the service.
func (s *Service) Rewrap(ctx context.Context, tenantID, ciphertext string, context []byte) (string, bool, error) {
	pt, k, err := s.decrypt(ctx, tenantID, ciphertext, context)
	if err != nil {
		return "", false, err
	}
	// Rewrap is how data leaves old versions before they are retired: it must reach the
	// primary made by a rotation moments ago in another instance, so it reads the key afresh.
	if k, err = s.freshKey(ctx, tenantID, k.Name); err != nil {
		return "", false, err
	}
	h, _, _ := ParseCiphertext(ciphertext)
	if h.Version == k.Primary() {
		return ciphertext, false, nil
	}
	primary := Header{Name: h.Name, Version: k.Primary()}
	m, err := s.material(ctx, k, primary.Version)
	if err != nil {
		return "", false, err
	}
	out, err := seal(m.aead, tenantID, primary, pt, context)
	if err != nil {
		return "", false, fmt.Errorf("rewrap: %w", err)
	}
	return out, true, nil
}

// usable checks that version v of k may decrypt.
func usable(k Key, v int) error {
	if !k.ShreddedAt.IsZero() {
		return ErrKeyShredded
	}
	if _, ok := k.Version(v); !ok {
		return ErrVersionNotFound
	}
	if v < k.MinDecryptionVersion {
		return ErrVersionRetired
	}
	return nil
}

// keyForUse returns the key to encrypt with, making a platform key on first use.
func (s *Service) keyForUse(ctx context.Context, tenantID, name string) (Key, error) {
	if !ValidName(name) {
		return Key{}, ErrInvalidName
	}
	k, err := s.key(ctx, tenantID, name)
	if errors.Is(err, ErrKeyNotFound) && Reserved(name) {
		k, err = s.ensurePlatformKey(ctx, tenantID, name)
	}
	if err != nil {
		return Key{}, err
	}
	if !k.ShreddedAt.IsZero() {
		return Key{}, ErrKeyShredded
	}
	return k, nil
}

// ensurePlatformKey makes the platform key name of the tenant, or returns the one a racing
// caller made.
func (s *Service) ensurePlatformKey(ctx context.Context, tenantID, name string) (Key, error) {
	if name != KEKName && name != SecretsKeyName {
		if _, ok := UserOf(name); !ok {
			return Key{}, ErrKeyNotFound
		}
	}
	owner, _ := UserOf(name)
	_, err := s.create(ctx, Key{TenantID: tenantID, Name: name, Owner: owner})
	if err != nil && !errors.Is(err, ErrKeyExists) {
		return Key{}, err
	}
	return s.freshKey(ctx, tenantID, name)
}

// create stores a new key with its first version.
func (s *Service) create(ctx context.Context, k Key) (Key, error) {
	now := s.now()
	k.CreatedAt, k.UpdatedAt = now, now
	if k.MinDecryptionVersion < 1 {
		k.MinDecryptionVersion = 1
	}
	v, m, err := s.newVersion(ctx, k.TenantID, k.Name, 1)
	if err != nil {
		return Key{}, err
	}
	k.Versions = []Version{v}
	if err := s.store.CreateKey(ctx, k); err != nil {
		if errors.Is(err, ErrKeyExists) {
			return Key{}, err
		}
		return Key{}, fmt.Errorf("create key: %w", err)
	}
	s.dataKeys.put(versionID{k.TenantID, k.Name, 1}, m, s.clock.Now())
	s.meta.put(k, s.clock.Now())
	return k, nil
}

// key returns the tenant's key, from the metadata cache when it is fresh there.
func (s *Service) key(ctx context.Context, tenantID, name string) (Key, error) {
	if k, ok := s.meta.get(KeyRef{tenantID, name}, s.clock.Now()); ok {
		return k, nil
	}
	return s.freshKey(ctx, tenantID, name)
}

// keyWithVersion is key for a ciphertext of version v: when the cached key does not have v
// yet (another instance rotated it within the metadata TTL), it reads the key again, so a
// ciphertext is never refused for being newer than this instance's cache.
func (s *Service) keyWithVersion(ctx context.Context, tenantID, name string, v int) (Key, error) {
	k, err := s.key(ctx, tenantID, name)
	if err != nil {
		return Key{}, err
	}
	if _, ok := k.Version(v); ok || !k.ShreddedAt.IsZero() {
		return k, nil
	}
	return s.freshKey(ctx, tenantID, name)
}

// freshKey reads the tenant's key from the store and caches it.
func (s *Service) freshKey(ctx context.Context, tenantID, name string) (Key, error) {
	if !ValidName(name) {
		return Key{}, ErrKeyNotFound
	}
	k, err := s.store.Key(ctx, tenantID, name)
	if errors.Is(err, ErrKeyNotFound) {
		return Key{}, ErrKeyNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("read key: %w", err)
	}
	if !k.ShreddedAt.IsZero() {
		s.dataKeys.forget(tenantID, name)
	}
	s.meta.put(k, s.clock.Now())
	return k, nil
}

// material returns what version v of k seals and MACs with, unwrapping its data key when it
// is not cached.
func (s *Service) material(ctx context.Context, k Key, v int) (*material, error) {
	id := versionID{k.TenantID, k.Name, v}
	if m, ok := s.dataKeys.get(id, s.clock.Now()); ok {
		return m, nil
	}
	ver, ok := k.Version(v)
	if !ok {
		return nil, ErrVersionNotFound
	}
	dk, err := s.unwrap(ctx, k.TenantID, k.Name, ver)
	if err != nil {
		return nil, err
	}
	m, err := newMaterial(dk)
	clear(dk)
	if err != nil {
		return nil, fmt.Errorf("data key of %s v%d: %w", k.Name, v, err)
	}
	s.dataKeys.put(id, m, s.clock.Now())
	return m, nil
}

// Prefixes of Version.WrappedBy.
const (
	wrappedByMaster = "master:"
	wrappedByKey    = "key:"
)

// masterContext is the encryption context a data key is wrapped with by the master key.
func masterContext(tenantID, name string, version int) map[string]string {
	return map[string]string{"tenant_id": tenantID, "key": name, "version": strconv.Itoa(version)}
}

// wrapAD is the associated data of a data key the tenant's KEK wraps.
func wrapAD(tenantID, name string, version int) []byte {
	return []byte("caas:wrap:v1\x00" + tenantID + "\x00" + name + "\x00" + strconv.Itoa(version))
}

// newVersion makes the data key of version v of the tenant's key name: a user key's is wrapped
// by the tenant's KEK, every other key's by the master key.
func (s *Service) newVersion(ctx context.Context, tenantID, name string, v int) (Version, *material, error) {
	ver := Version{Version: v, CreatedAt: s.now()}
	var dk []byte
	if _, isUser := UserOf(name); isUser {
		kek, err := s.keyForUse(ctx, tenantID, KEKName)
		if err != nil {
			return Version{}, nil, fmt.Errorf("key-encryption key: %w", err)
		}
		kekM, err := s.material(ctx, kek, kek.Primary())
		if err != nil {
			return Version{}, nil, fmt.Errorf("key-encryption key: %w", err)
		}
		dk = make([]byte, dataKeySize)
		if _, err := rand.Read(dk); err != nil {
			return Version{}, nil, fmt.Errorf("new data key: %w", err)
		}
		if ver.Wrapped, err = wrapWith(kekM.aead, dk, wrapAD(tenantID, name, v)); err != nil {
			return Version{}, nil, err
		}
		ver.WrappedBy = wrappedByKey + KEKName + ":" + strconv.Itoa(kek.Primary())
	} else {
		var err error
		dk, ver.Wrapped, err = s.master.GenerateDataKey(ctx, masterContext(tenantID, name, v))
		if err != nil {
			return Version{}, nil, fmt.Errorf("generate data key: %w", err)
		}
		ver.WrappedBy = wrappedByMaster + s.master.ID()
	}
	m, err := newMaterial(dk)
	clear(dk)
	if err != nil {
		return Version{}, nil, fmt.Errorf("new data key: %w", err)
	}
	return ver, m, nil
}

// wrapWith seals a data key under a KEK version's AEAD: nonce ‖ sealed.
func wrapWith(kek cipher.AEAD, dk, ad []byte) ([]byte, error) {
	nonce := make([]byte, nonceSize, nonceSize+len(dk)+tagSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("wrap data key: %w", err)
	}
	return kek.Seal(nonce, nonce, dk, ad), nil
}

// unwrap returns the plain data key of a version.
func (s *Service) unwrap(ctx context.Context, tenantID, name string, ver Version) ([]byte, error) {
	switch {
	case strings.HasPrefix(ver.WrappedBy, wrappedByMaster):
		if id := strings.TrimPrefix(ver.WrappedBy, wrappedByMaster); id != s.master.ID() {
			return nil, fmt.Errorf("data key of %s v%d is wrapped by master key %q, this function has %q: %w",
				name, ver.Version, id, s.master.ID(), ErrUnwrap)
		}
		dk, err := s.master.Decrypt(ctx, ver.Wrapped, masterContext(tenantID, name, ver.Version))
		if err != nil {
			return nil, fmt.Errorf("unwrap data key of %s v%d: %w", name, ver.Version, err)
		}
		return dk, nil
	case strings.HasPrefix(ver.WrappedBy, wrappedByKey):
		kekName, kekVer, err := parseWrappingKey(ver.WrappedBy)
		if err != nil {
			return nil, err
		}
		kek, err := s.keyWithVersion(ctx, tenantID, kekName, kekVer)
		if err != nil {
			return nil, fmt.Errorf("key-encryption key of %s: %w", name, err)
		}
		if err := usable(kek, kekVer); err != nil {
			return nil, fmt.Errorf("key-encryption key of %s: %w", name, err)
		}
		kekM, err := s.material(ctx, kek, kekVer)
		if err != nil {
			return nil, fmt.Errorf("key-encryption key of %s: %w", name, err)
		}
		if len(ver.Wrapped) < nonceSize+tagSize {
			return nil, fmt.Errorf("data key of %s v%d: too short: %w", name, ver.Version, ErrUnwrap)
		}
		dk, err := kekM.aead.Open(nil, ver.Wrapped[:nonceSize], ver.Wrapped[nonceSize:], wrapAD(tenantID, name, ver.Version))
		if err != nil {
			return nil, fmt.Errorf("data key of %s v%d: %w", name, ver.Version, ErrUnwrap)
		}
		return dk, nil
	}
	return nil, fmt.Errorf("data key of %s v%d: unknown wrapping %q: %w", name, ver.Version, ver.WrappedBy, ErrUnwrap)
}

// parseWrappingKey splits "key:<name>:<version>".
func parseWrappingKey(wrappedBy string) (string, int, error) {
	rest := strings.TrimPrefix(wrappedBy, wrappedByKey)
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", 0, fmt.Errorf("wrapping %q: %w", wrappedBy, ErrUnwrap)
	}
	v, err := strconv.Atoi(rest[i+1:])
	if err != nil || v < 1 {
		return "", 0, fmt.Errorf("wrapping %q: %w", wrappedBy, ErrUnwrap)
	}
	return rest[:i], v, nil
}

// maxRotateAttempts bounds how often one rotation retries after racing rotations took the
// version number it tried.
const maxRotateAttempts = 16

// rotate adds the next version to the tenant's key and returns the key with it. When a racing
// rotation takes the number first, it tries the next one.
func (s *Service) rotate(ctx context.Context, tenantID, name string) (Key, error) {
	for range maxRotateAttempts {
		k, err := s.freshKey(ctx, tenantID, name)
		if err != nil {
			return Key{}, err
		}
		if !k.ShreddedAt.IsZero() {
			return Key{}, ErrKeyShredded
		}
		next := k.Primary() + 1
		v, m, err := s.newVersion(ctx, tenantID, name, next)
		if err != nil {
			return Key{}, err
		}
		err = s.store.AddVersion(ctx, tenantID, name, v)
		if errors.Is(err, ErrVersionExists) {
			continue
		}
		if err != nil {
			if errors.Is(err, ErrKeyShredded) || errors.Is(err, ErrKeyNotFound) {
				return Key{}, err
			}
			return Key{}, fmt.Errorf("add key version: %w", err)
		}
		s.dataKeys.put(versionID{tenantID, name, next}, m, s.clock.Now())
		s.meta.forget(KeyRef{tenantID, name})
		return s.freshKey(ctx, tenantID, name)
	}
	return Key{}, fmt.Errorf("rotate %s: too many concurrent rotations", name)
}

// Shred destroys the tenant's key: its versions are deleted, so everything sealed under it is
// unreadable from then on, wherever copies of the ciphertext are. Other function instances
// stop using it within the metadata TTL. Shredding a key that is already shredded succeeds.
func (s *Service) Shred(ctx context.Context, tenantID, name string) error {
	err := s.store.Shred(ctx, tenantID, name, s.now())
	if errors.Is(err, ErrKeyNotFound) {
		return ErrKeyNotFound
	}
	if err != nil {
		return fmt.Errorf("shred key: %w", err)
	}
	s.dataKeys.forget(tenantID, name)
	s.meta.forget(KeyRef{tenantID, name})
	return nil
}

// ShredUser destroys the user's own key. A user who never had one is fine.
func (s *Service) ShredUser(ctx context.Context, tenantID, userID string) error {
	name := UserKeyName(userID)
	err := s.Shred(ctx, tenantID, name)
	if errors.Is(err, ErrKeyNotFound) {
		// Leave a shredded key behind anyway, so no key is made for the user later.
		if _, err := s.create(ctx, Key{TenantID: tenantID, Name: name, Owner: userID}); err != nil && !errors.Is(err, ErrKeyExists) {
			return err
		}
		return s.Shred(ctx, tenantID, name)
	}
	return err
}

// rewrapBatch is how many keys RewrapUserKeys takes from the store at a time.
const rewrapBatch = 100

// RewrapUserKeys moves the data keys of users' keys wrapped by an older version of their
// tenant's KEK to the KEK's primary version, for every tenant, until none is left or ctx's
// deadline nears; after it, the KEK's older versions can be retired. The data keys themselves,
// and so every ciphertext, stay the same. It returns how many versions it moved and whether it
// finished.
func (s *Service) RewrapUserKeys(ctx context.Context) (moved int, complete bool, err error) {
	after := ""
	for {
		keks, err := s.store.KeysNamed(ctx, KEKName, after, rewrapBatch)
		if err != nil {
			return moved, false, fmt.Errorf("list key-encryption keys: %w", err)
		}
		for _, ref := range keks {
			n, done, err := s.rewrapTenantUserKeys(ctx, ref.TenantID)
			moved += n
			if err != nil || !done {
				return moved, false, err
			}
		}
		if len(keks) < rewrapBatch {
			return moved, true, nil
		}
		after = keks[len(keks)-1].TenantID
	}
}

// rewrapTenantUserKeys is RewrapUserKeys for one tenant.
func (s *Service) rewrapTenantUserKeys(ctx context.Context, tenantID string) (int, bool, error) {
	moved := 0
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < rotationMargin {
			return moved, false, nil
		}
		kek, err := s.freshKey(ctx, tenantID, KEKName)
		if err != nil {
			return moved, false, err
		}
		if !kek.ShreddedAt.IsZero() || kek.Primary() <= 1 {
			return moved, true, nil
		}
		refs, err := s.store.WrappedBy(ctx, tenantID, KEKName, kek.Primary(), rewrapBatch)
		if err != nil {
			return moved, false, fmt.Errorf("find keys to rewrap: %w", err)
		}
		if len(refs) == 0 {
			return moved, true, nil
		}
		primary := wrappedByKey + KEKName + ":" + strconv.Itoa(kek.Primary())
		kekM, err := s.material(ctx, kek, kek.Primary())
		if err != nil {
			return moved, false, err
		}
		before := moved
		for _, ref := range refs {
			k, err := s.freshKey(ctx, tenantID, ref.Name)
			if err != nil {
				return moved, false, err
			}
			for _, v := range k.Versions {
				if v.WrappedBy == primary || !strings.HasPrefix(v.WrappedBy, wrappedByKey+KEKName+":") {
					continue
				}
				dk, err := s.unwrap(ctx, tenantID, k.Name, v)
				if err != nil {
					return moved, false, err
				}
				wrapped, err := wrapWith(kekM.aead, dk, wrapAD(tenantID, k.Name, v.Version))
				clear(dk)
				if err != nil {
					return moved, false, err
				}
				err = s.store.RewrapVersion(ctx, tenantID, k.Name, v.Version, wrapped, primary)
				if err != nil && !errors.Is(err, ErrKeyNotFound) {
					return moved, false, fmt.Errorf("store rewrapped %s v%d: %w", k.Name, v.Version, err)
				}
				moved++
			}
		}
		if moved == before {
			// The store named keys with nothing left to move (shredded meanwhile): stop rather
			// than ask again for the same ones.
			return moved, true, nil
		}
	}
}
