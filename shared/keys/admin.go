package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"caas.dev/shared/fault"
)

// Caller is who asks through the API: a tenant and the caller's role in it.
type Caller struct {
	TenantID string
	Role     string
}

// NewKey is a key to create. Nil roles default to admin only; a zero rotation period means the
// key is rotated only by hand.
type NewKey struct {
	Name           string
	RotationPeriod time.Duration
	EncryptRoles   []string
	DecryptRoles   []string
}

// PolicyChange changes some of a key's policy: the fields left nil stay as they are.
type PolicyChange struct {
	MinDecryptionVersion *int
	RotationPeriod       *time.Duration
	EncryptRoles         []string
	DecryptRoles         []string
}

// requireAdmin refuses callers who are not tenant administrators.
func requireAdmin(c Caller) error {
	if c.Role != RoleAdmin {
		return ErrNotAdmin
	}
	return nil
}

// validRoles checks that roles names only known roles.
func validRoles(field string, roles []string) error {
	for _, r := range roles {
		if !slices.Contains(KnownRoles, r) {
			return fmt.Errorf("%w: %s names an unknown role %q (known: admin, user)", ErrInvalidPolicy, field, r)
		}
	}
	return nil
}

// validPeriod checks an automatic rotation period.
func validPeriod(p time.Duration) error {
	if p != 0 && (p < MinRotationPeriod || p%time.Second != 0) {
		return fmt.Errorf("%w: rotation_period is 0 (never) or whole seconds of at least 1 hour", ErrInvalidPolicy)
	}
	return nil
}

// CreateKey makes a key of the caller's tenant with its first version.
func (s *Service) CreateKey(ctx context.Context, c Caller, in NewKey) (Key, error) {
	if err := requireAdmin(c); err != nil {
		return Key{}, err
	}
	if !ValidName(in.Name) {
		return Key{}, ErrInvalidName
	}
	if Reserved(in.Name) {
		return Key{}, ErrReservedKey
	}
	if err := validPeriod(in.RotationPeriod); err != nil {
		return Key{}, err
	}
	if in.EncryptRoles == nil {
		in.EncryptRoles = []string{RoleAdmin}
	}
	if in.DecryptRoles == nil {
		in.DecryptRoles = []string{RoleAdmin}
	}
	if err := errors.Join(validRoles("encrypt_roles", in.EncryptRoles), validRoles("decrypt_roles", in.DecryptRoles)); err != nil {
		return Key{}, err
	}
	return s.create(ctx, Key{TenantID: c.TenantID, Name: in.Name, Policy: Policy{
		MinDecryptionVersion: 1,
		RotationPeriod:       in.RotationPeriod,
		EncryptRoles:         dedupe(in.EncryptRoles),
		DecryptRoles:         dedupe(in.DecryptRoles),
	}})
}

func dedupe(roles []string) []string {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}

// GetKey returns a key of the caller's tenant: its versions, policy and state.
func (s *Service) GetKey(ctx context.Context, c Caller, name string) (Key, error) {
	if err := requireAdmin(c); err != nil {
		return Key{}, err
	}
	return s.freshKey(ctx, c.TenantID, name)
}

// ListKeys returns up to limit of the tenant's keys that belong to no user, by name, after
// afterName, and whether more follow.
func (s *Service) ListKeys(ctx context.Context, c Caller, afterName string, limit int) ([]Key, bool, error) {
	if err := requireAdmin(c); err != nil {
		return nil, false, err
	}
	ks, err := s.store.ListKeys(ctx, c.TenantID, afterName, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list keys: %w", err)
	}
	if len(ks) > limit {
		return ks[:limit], true, nil
	}
	return ks, false, nil
}

// RotateKey adds a version to a key of the caller's tenant; it becomes the primary.
func (s *Service) RotateKey(ctx context.Context, c Caller, name string) (Key, error) {
	if err := requireAdmin(c); err != nil {
		return Key{}, err
	}
	return s.rotate(ctx, c.TenantID, name)
}

// UpdatePolicy changes a key's policy. MinDecryptionVersion may be raised up to the primary
// version (retiring the older ones) or lowered again. The KEK's cannot be raised above a
// version that still wraps a user's key: the re-encryption job moves those first.
func (s *Service) UpdatePolicy(ctx context.Context, c Caller, name string, ch PolicyChange) (Key, error) {
	if err := requireAdmin(c); err != nil {
		return Key{}, err
	}
	k, err := s.freshKey(ctx, c.TenantID, name)
	if err != nil {
		return Key{}, err
	}
	if !k.ShreddedAt.IsZero() {
		return Key{}, ErrKeyShredded
	}
	p := k.Policy
	if ch.MinDecryptionVersion != nil {
		v := *ch.MinDecryptionVersion
		if v < 1 || v > k.Primary() {
			return Key{}, fmt.Errorf("%w: min_decryption_version must be between 1 and the primary version %d",
				ErrInvalidPolicy, k.Primary())
		}
		if v > p.MinDecryptionVersion {
			// Version v became the primary at its creation; until every instance's metadata has
			// been read since, some may still encrypt under v-1.
			ver, _ := k.Version(v)
			if wait := ver.CreatedAt.Add(s.metaTTL + time.Second).Sub(s.now()); wait > 0 {
				e := fault.WithDetail(ErrVersionInUse, fmt.Sprintf(
					"version %d became the primary %s ago; versions below it can be retired %s from now",
					v, s.now().Sub(ver.CreatedAt).Round(time.Millisecond), wait.Round(time.Second)))
				e.RetryAfter = int(wait.Round(time.Second)/time.Second) + 1
				return Key{}, e
			}
		}
		if name == KEKName && v > p.MinDecryptionVersion {
			wrapped, err := s.store.WrappedBy(ctx, c.TenantID, KEKName, v, 1)
			if err != nil {
				return Key{}, fmt.Errorf("check wrapped keys: %w", err)
			}
			if len(wrapped) > 0 {
				return Key{}, fmt.Errorf("%w: user keys are still wrapped by versions below %d; "+
					"the re-encryption job moves them to the primary version", ErrInvalidPolicy, v)
			}
		}
		p.MinDecryptionVersion = v
	}
	if ch.RotationPeriod != nil {
		if err := validPeriod(*ch.RotationPeriod); err != nil {
			return Key{}, err
		}
		p.RotationPeriod = *ch.RotationPeriod
	}
	if ch.EncryptRoles != nil || ch.DecryptRoles != nil {
		if Reserved(name) {
			return Key{}, fmt.Errorf("%w: the roles of a platform key cannot be changed", ErrReservedKey)
		}
		if ch.EncryptRoles != nil {
			p.EncryptRoles = dedupe(ch.EncryptRoles)
		}
		if ch.DecryptRoles != nil {
			p.DecryptRoles = dedupe(ch.DecryptRoles)
		}
		if err := errors.Join(validRoles("encrypt_roles", p.EncryptRoles), validRoles("decrypt_roles", p.DecryptRoles)); err != nil {
			return Key{}, err
		}
	}
	if err := s.store.SetPolicy(ctx, c.TenantID, name, p, s.now()); err != nil {
		return Key{}, fmt.Errorf("update key policy: %w", err)
	}
	s.meta.forget(KeyRef{c.TenantID, name})
	return s.freshKey(ctx, c.TenantID, name)
}

// allowed checks that the caller may use the key for an operation through the API.
func allowed(k Key, c Caller, roles []string) error {
	if Reserved(k.Name) {
		return ErrReservedKey
	}
	if !slices.Contains(roles, c.Role) {
		return ErrForbidden
	}
	return nil
}

// EncryptAs is Encrypt for an API caller: the key must not be a platform key, and the caller's
// role must be one of the key's encrypt roles. It returns the ciphertext and the version used.
func (s *Service) EncryptAs(ctx context.Context, c Caller, name string, plaintext, context []byte) (string, int, error) {
	if Reserved(name) {
		return "", 0, ErrReservedKey
	}
	if len(plaintext) > MaxPlaintext {
		return "", 0, ErrTooLarge
	}
	k, err := s.keyForUse(ctx, c.TenantID, name)
	if err != nil {
		return "", 0, err
	}
	if err := allowed(k, c, k.EncryptRoles); err != nil {
		return "", 0, err
	}
	ct, err := s.Encrypt(ctx, c.TenantID, name, plaintext, context)
	if err != nil {
		return "", 0, err
	}
	h, _, _ := ParseCiphertext(ct)
	return ct, h.Version, nil
}

// DecryptAs is Decrypt for an API caller: the ciphertext's key must not be a platform key, and
// the caller's role must be one of its decrypt roles.
func (s *Service) DecryptAs(ctx context.Context, c Caller, ciphertext string, context []byte) ([]byte, Header, error) {
	h, _, err := ParseCiphertext(ciphertext)
	if err != nil {
		return nil, Header{}, err
	}
	if Reserved(h.Name) {
		return nil, Header{}, ErrReservedKey
	}
	k, err := s.key(ctx, c.TenantID, h.Name)
	if err != nil {
		return nil, Header{}, err
	}
	if err := allowed(k, c, k.DecryptRoles); err != nil {
		return nil, Header{}, err
	}
	pt, err := s.Decrypt(ctx, c.TenantID, ciphertext, context)
	if err != nil {
		return nil, Header{}, err
	}
	return pt, h, nil
}

// RewrapAs is Rewrap for an API caller, who needs a role the key lets encrypt. It returns the
// new ciphertext and its version.
func (s *Service) RewrapAs(ctx context.Context, c Caller, ciphertext string, context []byte) (string, int, error) {
	h, _, err := ParseCiphertext(ciphertext)
	if err != nil {
		return "", 0, err
	}
	if Reserved(h.Name) {
		return "", 0, ErrReservedKey
	}
	k, err := s.key(ctx, c.TenantID, h.Name)
	if err != nil {
		return "", 0, err
	}
	if err := allowed(k, c, k.EncryptRoles); err != nil {
		return "", 0, err
	}
	out, _, err := s.Rewrap(ctx, c.TenantID, ciphertext, context)
	if err != nil {
		return "", 0, err
	}
	nh, _, _ := ParseCiphertext(out)
	return out, nh.Version, nil
}

// rotationMargin is the time left before the deadline at which RotateDue stops.
const rotationMargin = 2 * time.Second

// RotateDue adds a version to every key whose automatic rotation period has passed since its
// newest version, in batches, until none is due or ctx's deadline nears. It returns how many
// keys it rotated. A key rotated meanwhile by another caller is left alone.
func (s *Service) RotateDue(ctx context.Context) (int, error) {
	rotated := 0
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < rotationMargin {
			return rotated, nil
		}
		refs, err := s.store.DueForRotation(ctx, s.now(), 50)
		if err != nil {
			return rotated, fmt.Errorf("find keys due for rotation: %w", err)
		}
		progressed := false
		for _, r := range refs {
			k, err := s.freshKey(ctx, r.TenantID, r.Name)
			if err != nil {
				return rotated, err
			}
			next := k.NextRotation()
			if next.IsZero() || next.After(s.now()) {
				continue
			}
			if _, err := s.rotate(ctx, r.TenantID, r.Name); err != nil {
				return rotated, fmt.Errorf("rotate %s of %s: %w", r.Name, r.TenantID, err)
			}
			rotated++
			progressed = true
		}
		if len(refs) < 50 || !progressed {
			return rotated, nil
		}
	}
}
