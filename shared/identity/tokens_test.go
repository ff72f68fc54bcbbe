package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// mapKeys resolves kids from a fixed map.
type mapKeys map[string]*rsa.PublicKey

func (m mapKeys) Lookup(_ context.Context, kid string) (*rsa.PublicKey, error) {
	if k, ok := m[kid]; ok {
		return k, nil
	}
	return nil, ErrKeyNotFound
}

var testKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

var tokenCfg = TokenConfig{Issuer: "caas-test", Audience: "caas", TTL: 15 * time.Minute}

func newPair(clk clock.Clock) (*Issuer, *Verifier, SigningKey) {
	key := SigningKey{ID: "key_test", Private: testKey, Status: KeyActive}
	iss := &Issuer{Config: tokenCfg, Clock: clk, IDs: ids.Random{}}
	ver := &Verifier{Config: tokenCfg, Keys: mapKeys{key.ID: &testKey.PublicKey}, Clock: clk}
	return iss, ver, key
}

var (
	tenantID  = ids.Make(ids.Tenant, time.Unix(1, 0), nil)
	userID    = ids.Make(ids.User, time.Unix(1, 0), nil)
	sessionID = ids.Make(ids.Session, time.Unix(1, 0), nil)
)

func TestIssueVerify(t *testing.T) {
	clk := clock.NewFixed(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	iss, ver, key := newPair(clk)
	tok, ttl, err := iss.Issue(key, tenantID, userID, sessionID, RoleUser)
	if err != nil || ttl != 15*time.Minute {
		t.Fatalf("issue: %v ttl %v", err, ttl)
	}
	c, err := ver.Verify(t.Context(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Subject != userID || c.TenantID != tenantID || c.SessionID != sessionID || c.Role != RoleUser ||
		c.Issuer != "caas-test" || !c.ExpiresAt.Time.Equal(clk.Now().Add(15*time.Minute)) || c.ID == "" {
		t.Fatalf("claims %+v", c)
	}
	hdr := decodeSegment(t, tok, 0)
	if !strings.Contains(hdr, `"kid":"key_test"`) || !strings.Contains(hdr, `"alg":"RS256"`) {
		t.Fatalf("header %s", hdr)
	}
}

func decodeSegment(t *testing.T, tok string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sign makes a token with arbitrary claims, method, kid and key.
func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clock.NewFixed(now)
	_, ver, _ := newPair(clk)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "caas-test", "aud": "caas", "sub": userID, "tid": tenantID, "sid": sessionID,
			"role": "user", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "j1",
		}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&testKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)

	valid := sign(t, jwt.SigningMethodRS256, "key_test", testKey, good())
	if _, err := ver.Verify(t.Context(), valid); err != nil {
		t.Fatalf("the baseline token is refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	noneTok := sign(t, jwt.SigningMethodNone, "key_test", jwt.UnsafeAllowNoneSignatureType, good())

	cases := map[string]string{
		"empty":              "",
		"garbage":            "not.a.token",
		"alg none":           noneTok,
		"alg none no sig":    strings.Join(strings.Split(noneTok, ".")[:2], ".") + ".",
		"HS256 with pub key": sign(t, jwt.SigningMethodHS256, "key_test", pubPEM, good()),
		"HS256 with pub DER": sign(t, jwt.SigningMethodHS256, "key_test", pubDER, good()),
		"RS512":              sign(t, jwt.SigningMethodRS512, "key_test", testKey, good()),
		"PS256":              sign(t, jwt.SigningMethodPS256, "key_test", testKey, good()),
		"unknown kid":        sign(t, jwt.SigningMethodRS256, "key_other", testKey, good()),
		"no kid":             sign(t, jwt.SigningMethodRS256, "", testKey, good()),
		"other key same kid": sign(t, jwt.SigningMethodRS256, "key_test", otherKey, good()),
		"tampered payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x"}`)) + "." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"expired":            sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("exp", now.Add(-time.Minute).Unix())),
		"no exp":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("exp", nil)),
		"not yet valid":      sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("nbf", now.Add(time.Minute).Unix())),
		"no nbf":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("nbf", nil)),
		"issued in future":   sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("iat", now.Add(time.Hour).Unix())),
		"no iat":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("iat", nil)),
		"wrong iss":          sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("iss", "evil")),
		"no iss":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("iss", nil)),
		"wrong aud":          sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("aud", "other")),
		"no aud":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("aud", nil)),
		"no sub":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("sub", nil)),
		"bad sub":            sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("sub", "usr_x")),
		"no tid":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("tid", nil)),
		"no sid":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("sid", nil)),
		"no role":            sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("role", nil)),
		"no jti":             sign(t, jwt.SigningMethodRS256, "key_test", testKey, with("jti", nil)),
		"too long":           valid + strings.Repeat("A", maxTokenLen),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ver.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func flip(sig string) string {
	b, _ := base64.RawURLEncoding.DecodeString(sig)
	b[len(b)/2] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAcrossTime(t *testing.T) {
	clk := clock.NewFixed(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	iss, ver, key := newPair(clk)
	tok, _, err := iss.Issue(key, tenantID, userID, sessionID, RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(14 * time.Minute)
	if _, err := ver.Verify(t.Context(), tok); err != nil {
		t.Fatalf("a token 14 minutes old is refused: %v", err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := ver.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token past exp and leeway: err = %v", err)
	}
}

func TestRefreshToken(t *testing.T) {
	tok, hash, err := NewRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
	}
	if hash != HashRefreshToken(tok) || hash == tok {
		t.Fatal("hash does not match the token")
	}
	tok2, _, _ := NewRefreshToken()
	if tok2 == tok {
		t.Fatal("two refresh tokens are equal")
	}
}
