package e2e

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"caas.dev/shared/identity"
)

// TestSigningKeys checks what a third-party verifier relies on: the discovery document names
// the issuer of our tokens and where the keys are, and the published key set verifies a fresh
// access token.
func TestSigningKeys(t *testing.T) {
	w := getWorld(t)
	c := api()
	token, err := login(c, w.alice)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a JWS: %d parts", len(parts))
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	decodeJSONSegment(t, parts[0], &header)
	decodeJSONSegment(t, parts[1], &claims)
	if header.Alg != "RS256" || header.Kid == "" {
		t.Fatalf("token header %+v: want RS256 with a kid", header)
	}

	disc := c.do(t, "GET", "/.well-known/openid-configuration", nil, nil)
	mustStatus(t, disc, http.StatusOK)
	var doc identity.DiscoveryDocument
	if err := json.Unmarshal(disc.raw, &doc); err != nil {
		t.Fatalf("discovery document: %v: %s", err, disc)
	}
	if doc.Issuer == "" || doc.Issuer != claims.Iss {
		t.Errorf("discovery issuer %q, token iss %q: they must be equal", doc.Issuer, claims.Iss)
	}
	if len(doc.IDTokenSigningAlgValuesSupported) != 1 || doc.IDTokenSigningAlgValuesSupported[0] != "RS256" ||
		len(doc.ResponseTypesSupported) == 0 || len(doc.SubjectTypesSupported) == 0 {
		t.Errorf("discovery document %s", disc)
	}
	jwksURL, err := url.Parse(doc.JWKSURI)
	if err != nil || !jwksURL.IsAbs() || jwksURL.Path != "/.well-known/jwks.json" {
		t.Fatalf("jwks_uri %q: want an absolute URL of /.well-known/jwks.json", doc.JWKSURI)
	}
	if base, _ := url.Parse(c.base); base != nil && jwksURL.Host != base.Host {
		t.Errorf("jwks_uri %q does not point at this API (%s)", doc.JWKSURI, c.base)
	}

	// The key set, fetched where the document says.
	resp, err := c.hc.Get(doc.JWKSURI)
	if err != nil {
		t.Fatalf("GET jwks_uri: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Fatalf("GET jwks_uri: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	var set identity.JWKSet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode jwks: %v", err)
	}
	var jwk *identity.JWK
	for i, k := range set.Keys {
		if k.Kty != "RSA" || k.Use != "sig" || k.Alg != "RS256" || k.Kid == "" || k.N == "" || k.E == "" {
			t.Errorf("jwk %+v lacks a field", k)
		}
		if k.Kid == header.Kid {
			jwk = &set.Keys[i]
		}
	}
	if jwk == nil {
		t.Fatalf("the JWKS does not hold the token's kid %s", header.Kid)
	}
	pub, err := jwk.RSAPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	// Verify the RS256 signature by hand: the published key is all a verifier has.
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("the published key does not verify the token: %v", err)
	}
	tampered := sha256.Sum256([]byte(parts[0] + "." + parts[1] + "x"))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, tampered[:], sig) == nil {
		t.Fatal("the signature verifies a different payload")
	}
}

// TestCommonPasswordRefused checks the password policy at registration.
func TestCommonPasswordRefused(t *testing.T) {
	w := getWorld(t)
	c := api()
	for _, p := range []string{"Password1234", "qwertyuiop123"} {
		r := c.do(t, "POST", "/v1/auth/register", hdr{"X-Api-Key": w.a.apiKey},
			map[string]string{"email": "common." + randomHex(4) + "@example.test", "password": p, "display_name": "Common"})
		wantProblem(t, r, http.StatusBadRequest, "weak_password")
		if d, _ := r.obj()["detail"].(string); !strings.Contains(d, "common") {
			t.Errorf("detail %q does not say the password is common", d)
		}
	}
}

func decodeJSONSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
