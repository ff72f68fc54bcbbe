package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// Claims are the claims of an access token: the registered ones plus the tenant (tid), the
// session (sid) and the role.
type Claims struct {
	TenantID  string `json:"tid"`
	SessionID string `json:"sid"`
	Role      string `json:"role"`
	jwt.RegisteredClaims
}

// TokenConfig names the issuer and audience of access tokens and their lifetime.
type TokenConfig struct {
	Issuer   string
	Audience string
	TTL      time.Duration
}

// Issuer signs access tokens.
type Issuer struct {
	Config TokenConfig
	Clock  clock.Clock
	IDs    ids.Generator
}

// Issue returns a signed access token for the user and session, and its lifetime.
func (i *Issuer) Issue(key SigningKey, tenantID, userID, sessionID, role string) (string, time.Duration, error) {
	now := i.Clock.Now()
	c := Claims{
		TenantID:  tenantID,
		SessionID: sessionID,
		Role:      role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.Config.Issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{i.Config.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.Config.TTL)),
			ID:        i.IDs.New("jti"),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	t.Header["kid"] = key.ID
	s, err := t.SignedString(key.Private)
	if err != nil {
		return "", 0, fmt.Errorf("sign access token: %w", err)
	}
	return s, i.Config.TTL, nil
}

// KeyResolver finds the public key for a kid; *KeySet is the production one.
type KeyResolver interface {
	Lookup(ctx context.Context, kid string) (*rsa.PublicKey, error)
}

// Verifier checks access tokens strictly: RS256 only, a known kid, the configured issuer and
// audience, exp and nbf present and in range, and every claim the platform relies on.
type Verifier struct {
	Config TokenConfig
	Keys   KeyResolver
	Clock  clock.Clock
}

// maxTokenLen bounds the tokens the verifier will parse; ours are well under 1 KiB.
const maxTokenLen = 4096

// clockSkew is the leeway allowed on exp, nbf and iat for clocks that disagree slightly.
const clockSkew = 30 * time.Second

// Verify returns the token's claims, or an error wrapping ErrInvalidToken (or a store error
// when the keys cannot be loaded).
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return Claims{}, ErrInvalidToken
	}
	var lookupErr error
	keyfunc := func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok {
			return nil, ErrKeyNotFound
		}
		k, err := v.Keys.Lookup(ctx, kid)
		if err != nil && !errors.Is(err, ErrKeyNotFound) {
			lookupErr = err
		}
		return k, err
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithIssuer(v.Config.Issuer),
		jwt.WithAudience(v.Config.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(v.Clock.Now),
		jwt.WithStrictDecoding(),
	)
	var c Claims
	if _, err := p.ParseWithClaims(token, &c, keyfunc); err != nil {
		if lookupErr != nil {
			return Claims{}, fmt.Errorf("verify token: %w", lookupErr)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if !ids.Valid(ids.User, c.Subject) || !ids.Valid(ids.Tenant, c.TenantID) ||
		!ids.Valid(ids.Session, c.SessionID) || c.Role == "" || c.ID == "" || c.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: a required claim is missing or malformed", ErrInvalidToken)
	}
	return c, nil
}

// NewRefreshToken returns a fresh opaque refresh token (32 random bytes, base64url) and the
// SHA-256 hash the session stores instead of it. The token has full entropy, so a fast hash
// is enough: nothing can be guessed offline from the stored hash.
func NewRefreshToken() (token string, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("refresh token: read random: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashRefreshToken(token), nil
}

// HashRefreshToken is the stored form of a refresh token: its SHA-256, base64url-encoded.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
