package e2e

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/identity"
	"caas.dev/shared/mongo"
)

// TestAuthorizer checks that a protected route refuses every forged or unfit access token with
// API Gateway's own 403, and a request without a token with its 401. Forgeries that need a
// valid signature are signed with the platform's real private key; a token re-signed with it
// unchanged must pass, so each refusal is due to the one thing changed.
func TestAuthorizer(t *testing.T) {
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
	var header, claims map[string]any
	decodeJSONSegment(t, parts[0], &header)
	decodeJSONSegment(t, parts[1], &claims)
	kid, _ := header["kid"].(string)
	if kid == "" {
		t.Fatalf("token header %v has no kid", header)
	}
	pub := publishedKey(t, c, kid)
	priv := signingKey(t, the, kid)
	if priv.PublicKey.N.Cmp(pub.N) != 0 {
		t.Fatal("the stored private key is not the half of the published key")
	}
	get := func(t *testing.T, h hdr) *reply {
		t.Helper()
		return c.do(t, "GET", "/v1/users/me", h, nil)
	}

	t.Run("control: the real token and its re-signed copy pass", func(t *testing.T) {
		wantStatus(t, get(t, bearer(token)), http.StatusOK)
		wantStatus(t, get(t, bearer(signRS256(t, priv, header, claims))), http.StatusOK)
	})
	t.Run("missing header", func(t *testing.T) {
		wantGateway(t, get(t, nil), http.StatusUnauthorized, "Unauthorized")
	})

	now := time.Now().Unix()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	tamperedClaims := with(claims, "sub", w.bob.id)

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", unsigned(t, with(header, "alg", "none"), claims)},
		{"alg none without a signature", strings.TrimSuffix(unsigned(t, with(header, "alg", "none"), claims), ".")},
		{"HS256 keyed with the public key's PEM", signHS256(t, pubPEM, with(header, "alg", "HS256"), claims)},
		{"HS256 keyed with the public key's DER", signHS256(t, pkix, with(header, "alg", "HS256"), claims)},
		{"unknown kid, signed with the real key", signRS256(t, priv, with(header, "kid", "key_unknown"), claims)},
		{"kid changed, signature kept", segment(t, with(header, "kid", "key_unknown")) + "." + parts[1] + "." + parts[2]},
		{"payload tampered, signature kept", parts[0] + "." + segment(t, tamperedClaims) + "." + parts[2]},
		{"signed by another RSA key under the real kid", signRS256(t, other, header, claims)},
		{"wrong iss", signRS256(t, priv, header, with(claims, "iss", "https://evil.example"))},
		{"wrong aud", signRS256(t, priv, header, with(claims, "aud", []string{"someone-else"}))},
		{"expired", signRS256(t, priv, header, with(claims, "iat", now-3600, "nbf", now-3600, "exp", now-600))},
		{"not yet valid", signRS256(t, priv, header, with(claims, "nbf", now+600))},
		{"another tenant's tid with this tenant's user", signRS256(t, priv, header, with(claims, "tid", w.b.id))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantGateway(t, get(t, bearer(tc.token)), http.StatusForbidden, "Forbidden")
		})
	}

	t.Run("a deleted user", func(t *testing.T) {
		u, err := registerAndLogin(c, w.a, "deleted")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, get(t, bearer(u.token)), http.StatusOK)
		deleteUserDocument(t, the, u.id)
		// The authorizer caches a live answer for a few seconds; then the token stops working.
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := get(t, bearer(u.token))
			if r.status == http.StatusForbidden {
				wantGateway(t, r, http.StatusForbidden, "Forbidden")
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a deleted user's token still answers %d after 30 s", r.status)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// deleteUserDocument removes a user from the platform's MongoDB, as an erasure will once the
// API offers one. Like signingKey, it is the harness acting on its own platform's data.
func deleteUserDocument(t *testing.T, p *platform, userID string) {
	t.Helper()
	mongoURI := backendsOf(t, p).MongoURI
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := driver.Connect(ctx, options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	res, err := client.Database("caas_platform").Collection("users").DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}})
	if err != nil || res.DeletedCount != 1 {
		t.Fatalf("delete user %s: %v (deleted %v)", userID, err, res)
	}
}

// publishedKey is the public key of kid from GET /.well-known/jwks.json: all an attacker has.
func publishedKey(t *testing.T, c *client, kid string) *rsa.PublicKey {
	t.Helper()
	r := c.do(t, "GET", "/.well-known/jwks.json", nil, nil)
	mustStatus(t, r, http.StatusOK)
	var set identity.JWKSet
	if err := json.Unmarshal(r.raw, &set); err != nil {
		t.Fatalf("decode jwks: %v: %s", err, r)
	}
	for _, k := range set.Keys {
		if k.Kid == kid {
			pub, err := k.RSAPublicKey()
			if err != nil {
				t.Fatal(err)
			}
			return pub
		}
	}
	t.Fatalf("the JWKS does not hold kid %s: %s", kid, r)
	return nil
}

// signingKey reads the private key of kid from the platform's MongoDB (its address is in
// backends.json). A client could never do this: the test harness reads its own platform's data,
// only to sign tokens whose claims, not their signature, the authorizer must refuse.
func signingKey(t *testing.T, p *platform, kid string) *rsa.PrivateKey {
	t.Helper()
	mongoURI := backendsOf(t, p).MongoURI
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := mongo.Open(ctx, mongoURI)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	k, err := db.SigningKeys().ActiveSigningKey(ctx)
	if err != nil {
		t.Fatalf("read the signing key: %v", err)
	}
	if k.ID != kid {
		t.Fatalf("the active signing key is %s, the token's kid %s", k.ID, kid)
	}
	return k.Private
}

// with returns a copy of m with kv (key, value, key, value...) set.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// segment is v as a JWS segment: JSON, base64url without padding.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func unsigned(t *testing.T, header, claims map[string]any) string {
	return segment(t, header) + "." + segment(t, claims) + "."
}

func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := segment(t, with(header, "alg", "RS256")) + "." + segment(t, claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func signHS256(t *testing.T, secret []byte, header, claims map[string]any) string {
	t.Helper()
	input := segment(t, header) + "." + segment(t, claims)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
