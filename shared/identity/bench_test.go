package identity

import (
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// BenchmarkLogin measures a successful login with the production argon2id parameters
// (DefaultArgon2: m=19456 KiB, t=2, p=1), which dominate its cost: the stores are in memory.
func BenchmarkLogin(b *testing.B) {
	f := newFixture(b)
	f.svc.Argon2 = DefaultArgon2
	u := f.register(b, tenantID, "ann@example.com")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Login(b.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPassword is the argon2id check alone, the part of a login an unknown email
// also pays.
func BenchmarkVerifyPassword(b *testing.B) {
	hash, err := HashPassword(DefaultArgon2, goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := VerifyPassword(hash, goodPassword); err != nil || !ok {
			b.Fatal("verify failed", err)
		}
	}
}

// BenchmarkAuthorizer is the authorizer's cost per request once its key and session caches
// are warm, as on a warm Lambda instance: RS256 verification and claim checks.
func BenchmarkAuthorizer(b *testing.B) {
	f := newFixture(b)
	u := f.register(b, tenantID, "ann@example.com")
	tok, err := f.svc.Login(b.Context(), LoginInput{TenantID: tenantID, Email: u.Email, Password: goodPassword, IP: "192.0.2.1"})
	if err != nil {
		b.Fatal(err)
	}
	a := &Authorizer{Verifier: f.verifier, Users: f.store, Sessions: f.store, Clock: f.clock, Log: slog.New(slog.DiscardHandler)}
	req := events.APIGatewayV2CustomAuthorizerV2Request{Type: "REQUEST", Headers: map[string]string{"authorization": "Bearer " + tok.AccessToken}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := a.Handle(b.Context(), req)
		if err != nil || !resp.IsAuthorized {
			b.Fatal("refused", err)
		}
	}
}
