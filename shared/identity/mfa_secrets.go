package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/keys"
)

// SecretKeeper seals the secrets the platform keeps for users (TOTP seeds) with the key
// service; *keys.Service is the production one.
type SecretKeeper interface {
	Encrypt(ctx context.Context, tenantID, name string, plaintext, context []byte) (string, error)
	Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error)
	Rewrap(ctx context.Context, tenantID, ciphertext string, context []byte) (string, bool, error)
}

// secretContext binds a sealed TOTP seed to its user (the key service binds the tenant), so a
// ciphertext copied to another account does not open.
func secretContext(userID string) []byte { return []byte("totp\x00" + userID) }

// sealSecret encrypts a user's TOTP seed under the tenant's secrets key.
func (s *Service) sealSecret(ctx context.Context, tenantID, userID string, secret []byte) (string, error) {
	ct, err := s.Secrets.Encrypt(ctx, tenantID, keys.SecretsKeyName, secret, secretContext(userID))
	if err != nil {
		return "", fmt.Errorf("seal totp secret: %w", err)
	}
	return ct, nil
}

// openSecret decrypts what sealSecret returned for the same tenant and user.
func (s *Service) openSecret(ctx context.Context, f MFAFactor) ([]byte, error) {
	secret, err := s.Secrets.Decrypt(ctx, f.TenantID, f.SealedSecret, secretContext(f.UserID))
	if err != nil {
		return nil, fmt.Errorf("open totp secret: %w", err)
	}
	return secret, nil
}

// Tuning of ReencryptSecrets.
const (
	reencryptBatch  = 100
	reencryptMargin = 2 * time.Second
)

// ReencryptSecrets moves every active TOTP secret sealed under an older version of its
// tenant's secrets key to the primary version, in batches of reencryptBatch, until all are
// seen or ctx's deadline nears. It returns how many it moved and whether it saw them all; a
// run cut short starts over on the next run, passing quickly over what it moved already. A
// secret whose key is destroyed, or which changed meanwhile, is left alone.
func (s *Service) ReencryptSecrets(ctx context.Context) (moved int, complete bool, err error) {
	cursor := ""
	for {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < reencryptMargin {
			return moved, false, nil
		}
		factors, next, err := s.MFA.FactorsAfter(ctx, cursor, reencryptBatch)
		if err != nil {
			return moved, false, fmt.Errorf("list mfa factors: %w", err)
		}
		for _, f := range factors {
			sealed, changed, err := s.Secrets.Rewrap(ctx, f.TenantID, f.SealedSecret, secretContext(f.UserID))
			if errors.Is(err, keys.ErrKeyShredded) {
				continue
			}
			if err != nil {
				return moved, false, fmt.Errorf("rewrap totp secret of %s: %w", f.UserID, err)
			}
			if !changed {
				continue
			}
			ok, err := s.MFA.ReplaceSecret(ctx, f, sealed)
			if err != nil {
				return moved, false, fmt.Errorf("store rewrapped totp secret: %w", err)
			}
			if ok {
				moved++
			}
		}
		if len(factors) < reencryptBatch {
			return moved, true, nil
		}
		cursor = next
	}
}
