package identity

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
)

// jwkKeys resolves kids from a published key set, the way a third-party verifier does.
type jwkKeys struct{ set JWKSet }

func (j jwkKeys) Lookup(_ context.Context, kid string) (*rsa.PublicKey, error) {
	for _, k := range j.set.Keys {
		if k.Kid == kid {
			return k.RSAPublicKey()
		}
	}
	return nil, ErrKeyNotFound
}

func TestJWKSRoundTrip(t *testing.T) {
	clk := clock.NewFixed(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	store := &rotKeys{}
	first, err := EnsureSigningKey(t.Context(), store, clk, ids.Random{})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * day)
	if _, err := (&KeyRotator{Store: store, Policy: RotationPolicy{Rotation: 30 * day, TokenTTL: 15 * time.Minute},
		Clock: clk, IDs: ids.Random{}, Events: &recorder{}}).Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	active := mustActive(t, store)

	resp, err := JWKSHandler(&JWKSCache{Store: store, Clock: clk})(t.Context(), &edge.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Headers["Cache-Control"], "max-age=300") ||
		resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Headers)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 2 || raw.Keys[0]["kid"] != active.ID || raw.Keys[1]["kid"] != first.ID {
		t.Fatalf("keys %v: want the current then the previous", raw.Keys)
	}
	for _, k := range raw.Keys {
		if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["e"] != "AQAB" || len(k) != 6 {
			t.Fatalf("jwk %v", k)
		}
	}
	var set JWKSet
	if err := json.Unmarshal([]byte(resp.Body), &set); err != nil {
		t.Fatal(err)
	}
	// Tokens of both keys verify with the published JWKs only.
	iss := &Issuer{Config: tokenCfg, Clock: clk, IDs: ids.Random{}}
	ver := &Verifier{Config: tokenCfg, Keys: jwkKeys{set}, Clock: clk}
	for _, k := range []SigningKey{active, first} {
		tok, _, err := iss.Issue(k, tenantID, userID, sessionID, RoleUser)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := ver.Verify(t.Context(), tok); err != nil || c.Subject != userID {
			t.Fatalf("token of %s with the published JWK: %v", k.ID, err)
		}
	}
	// A key outside the set does not verify.
	stranger := SigningKey{ID: active.ID, Private: testKey}
	tok, _, _ := iss.Issue(stranger, tenantID, userID, sessionID, RoleUser)
	if _, err := ver.Verify(t.Context(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a token of an unpublished key: %v", err)
	}
}

func TestJWKDecodeRefuses(t *testing.T) {
	good := NewJWK("k", &testKey.PublicKey)
	if pub, err := good.RSAPublicKey(); err != nil || !pub.Equal(&testKey.PublicKey) {
		t.Fatalf("round trip: %v", err)
	}
	small := NewJWK("k", &rsa.PublicKey{N: new(big.Int).Rsh(testKey.N, 1100), E: 65537})
	cases := map[string]JWK{
		"kty":       {Kty: "EC", Alg: "RS256", Kid: "k", N: good.N, E: good.E},
		"alg":       {Kty: "RSA", Alg: "HS256", Kid: "k", N: good.N, E: good.E},
		"use":       {Kty: "RSA", Use: "enc", Kid: "k", N: good.N, E: good.E},
		"bad n":     {Kty: "RSA", Kid: "k", N: "!!", E: good.E},
		"padded n":  {Kty: "RSA", Kid: "k", N: "AA" + good.N, E: good.E},
		"empty e":   {Kty: "RSA", Kid: "k", N: good.N, E: ""},
		"even e":    {Kty: "RSA", Kid: "k", N: good.N, E: "Ag"},
		"small key": small,
	}
	for name, j := range cases {
		if _, err := j.RSAPublicKey(); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func TestDiscoveryDocument(t *testing.T) {
	get := func(issuer string, req *edge.Request) DiscoveryDocument {
		t.Helper()
		resp, err := DiscoveryHandler(TokenConfig{Issuer: issuer, Audience: "caas", TTL: time.Minute})(t.Context(), req)
		if err != nil || resp.StatusCode != 200 || resp.Headers["Cache-Control"] == "" {
			t.Fatalf("discovery: %v %+v", err, resp)
		}
		var d DiscoveryDocument
		if err := json.Unmarshal([]byte(resp.Body), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	req := &edge.Request{}
	req.RequestContext = events.APIGatewayV2HTTPRequestContext{DomainName: "abc.execute-api.eu-west-1.amazonaws.com"}

	d := get("https://abc.execute-api.eu-west-1.amazonaws.com", req)
	if d.Issuer != "https://abc.execute-api.eu-west-1.amazonaws.com" ||
		d.JWKSURI != "https://abc.execute-api.eu-west-1.amazonaws.com/.well-known/jwks.json" ||
		len(d.IDTokenSigningAlgValuesSupported) != 1 || d.IDTokenSigningAlgValuesSupported[0] != "RS256" ||
		len(d.ResponseTypesSupported) == 0 || len(d.SubjectTypesSupported) == 0 {
		t.Fatalf("document %+v", d)
	}
	// A bare issuer name: the keys are found where the document was fetched.
	local := &edge.Request{}
	local.Headers = map[string]string{"host": "127.0.0.1:3000", "x-forwarded-proto": "http"}
	if d := get("caas", local); d.Issuer != "caas" || d.JWKSURI != "http://127.0.0.1:3000/.well-known/jwks.json" {
		t.Fatalf("local document %+v", d)
	}
}
