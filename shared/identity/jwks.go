package identity

import (
	"cmp"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
)

// Paths of the well-known documents, relative to the issuer.
const (
	JWKSPath      = "/.well-known/jwks.json"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// jwksMaxAge is the Cache-Control max-age of the JWKS and discovery responses. A new key signs
// tokens at most DefaultActiveKeyMaxAge after it is added; verifiers that refetch on an
// unknown kid see it at once, the others within this.
const jwksMaxAge = 5 * time.Minute

// minRSABits is the smallest modulus a JWK may carry.
const minRSABits = 2048

// JWK is an RSA public signing key in RFC 7517 / 7518 form.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// JWKSet is a JSON Web Key Set (RFC 7517 §5).
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// NewJWK encodes pub as the RS256 signing JWK named kid: n and e are unsigned big-endian
// base64url without padding (RFC 7518 §6.3.1).
func NewJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{
		Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid,
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// RSAPublicKey decodes the key, refusing anything but an RS256 signing key of 2048 bits or
// more with a sane exponent.
func (j JWK) RSAPublicKey() (*rsa.PublicKey, error) {
	if j.Kty != "RSA" || (j.Alg != "" && j.Alg != "RS256") || (j.Use != "" && j.Use != "sig") {
		return nil, fmt.Errorf("decode jwk %q: not an RS256 signing key", j.Kid)
	}
	n, errN := base64.RawURLEncoding.DecodeString(j.N)
	e, errE := base64.RawURLEncoding.DecodeString(j.E)
	if errN != nil || errE != nil {
		return nil, fmt.Errorf("decode jwk %q: n or e is not base64url", j.Kid)
	}
	if len(e) == 0 || len(e) > 4 || len(n) == 0 || n[0] == 0 || e[0] == 0 {
		return nil, fmt.Errorf("decode jwk %q: n or e is malformed", j.Kid)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	if pub.N.BitLen() < minRSABits || pub.E < 3 || pub.E%2 == 0 {
		return nil, fmt.Errorf("decode jwk %q: key too small or bad exponent", j.Kid)
	}
	return pub, nil
}

// JWKSCache builds the key set from the store and keeps it for a minute, so a burst of
// fetches costs one read.
type JWKSCache struct {
	Store KeyStore
	Clock clock.Clock
	// TTL defaults to one minute.
	TTL time.Duration

	mu       sync.Mutex
	set      *JWKSet
	loadedAt time.Time
}

// Get returns the published key set: every active key, newest generation first.
func (c *JWKSCache) Get(ctx context.Context) (JWKSet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Clock.Now()
	if c.set != nil && now.Sub(c.loadedAt) < cmp.Or(c.TTL, time.Minute) {
		return *c.set, nil
	}
	keys, err := c.Store.PublicKeys(ctx)
	if err != nil {
		return JWKSet{}, fmt.Errorf("load jwks: %w", err)
	}
	slices.SortFunc(keys, func(a, b PublicKey) int { return b.Generation - a.Generation })
	set := JWKSet{Keys: []JWK{}}
	for _, k := range keys {
		if k.Status == KeyActive {
			set.Keys = append(set.Keys, NewJWK(k.ID, k.Key))
		}
	}
	if len(set.Keys) == 0 {
		return JWKSet{}, fmt.Errorf("load jwks: %w", ErrNoActiveKey)
	}
	c.set, c.loadedAt = &set, now
	return set, nil
}

// JWKSHandler serves GET /.well-known/jwks.json: the public keys that verify access tokens.
func JWKSHandler(c *JWKSCache) edge.HandlerFunc {
	return func(ctx context.Context, _ *edge.Request) (*edge.Response, error) {
		set, err := c.Get(ctx)
		if err != nil {
			return nil, err
		}
		return cacheable(edge.JSON(http.StatusOK, set))
	}
}

// DiscoveryDocument is the subset of OpenID Connect Discovery 1.0 metadata a verifier of
// caas access tokens needs. caas is not an OpenID provider (no authorization endpoint): the
// document exists so that verifiers such as API Gateway's JWT authorizer find the keys.
type DiscoveryDocument struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
}

// NewDiscoveryDocument returns the document of issuer. When the issuer is an http(s) URL the
// keys are published under it; otherwise (a bare name such as the default "caas") under
// base, the URL the document was fetched from.
func NewDiscoveryDocument(issuer, base string) DiscoveryDocument {
	root := base
	if strings.HasPrefix(issuer, "https://") || strings.HasPrefix(issuer, "http://") {
		root = issuer
	}
	return DiscoveryDocument{
		Issuer:                           issuer,
		JWKSURI:                          strings.TrimSuffix(root, "/") + JWKSPath,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ClaimsSupported:                  []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "tid", "sid", "role"},
	}
}

// DiscoveryHandler serves GET /.well-known/openid-configuration.
func DiscoveryHandler(tc TokenConfig) edge.HandlerFunc {
	return func(_ context.Context, req *edge.Request) (*edge.Response, error) {
		return cacheable(edge.JSON(http.StatusOK, NewDiscoveryDocument(tc.Issuer, requestBase(req))))
	}
}

// requestBase is the scheme and host the request was addressed to.
func requestBase(req *edge.Request) string {
	host := cmp.Or(req.Header("Host"), req.RequestContext.DomainName)
	proto := cmp.Or(req.Header("X-Forwarded-Proto"), "https")
	if host == "" || strings.ContainsAny(host, "/ \\@") || (proto != "http" && proto != "https") {
		return ""
	}
	return proto + "://" + host
}

// cacheable lets clients and proxies keep a well-known document for jwksMaxAge.
func cacheable(resp *edge.Response, err error) (*edge.Response, error) {
	if err != nil {
		return nil, err
	}
	resp.Headers["Cache-Control"] = fmt.Sprintf("public, max-age=%d", int(jwksMaxAge.Seconds()))
	return resp, nil
}
