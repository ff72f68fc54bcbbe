package mongo_test

import (
	"context"
	"encoding/base32"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
	"caas.dev/shared/redis"
)

// recorder keeps events for assertions.
type recorder struct{ events []identity.Event }

func (r *recorder) Record(_ context.Context, e identity.Event) { r.events = append(r.events, e) }

func (r *recorder) count(kind string) int {
	n := 0
	for _, e := range r.events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

type mfaFixture struct {
	svc    *identity.Service
	keys   *keys.Service
	mfa    *mongo.MFAStore
	clk    *clock.Fixed
	events *recorder
	tenant string
	user   identity.User
}

const mfaPassword = "correct horse battery staple"

// newMFAFixture is a Service on real MongoDB and Redis with a controlled clock, and one user.
func newMFAFixture(t *testing.T) *mfaFixture {
	t.Helper()
	ctx := t.Context()
	c := openIdentityClient(t)
	rc, err := redis.Open(backendtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	clk := clock.NewFixed(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	if _, err := identity.EnsureSigningKey(ctx, c.SigningKeys(), clk, ids.Random{}); err != nil {
		t.Fatal(err)
	}
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	box, err := keys.New(keys.Config{Store: c.Keys(), Master: master, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	svc, err := identity.NewService(identity.Deps{
		Users: c.Users(), Sessions: c.Sessions(),
		Keys:   &identity.ActiveKeyCache{Store: c.SigningKeys(), Clock: clk},
		Tokens: &identity.Issuer{Config: identity.TokenConfig{Issuer: "caas", Audience: "caas", TTL: 15 * time.Minute}, Clock: clk, IDs: ids.Random{}},
		Argon2: identity.Argon2Params{Iterations: 1, MemoryKiB: 64, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		Clock:  clk, IDs: ids.Random{},
		MFA: c.MFA(), Secrets: box,
		Lockout: rc.NewAttemptLimiter(backendtest.Prefix(t) + "attempts:"),
		Events:  rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	tenant := ids.Random{}.New(ids.Tenant)
	u, err := svc.Register(ctx, identity.RegisterInput{TenantID: tenant, Email: "ada@example.com", Password: mfaPassword, DisplayName: "Ada"})
	if err != nil {
		t.Fatal(err)
	}
	return &mfaFixture{svc: svc, keys: box, mfa: c.MFA(), clk: clk, events: rec, tenant: tenant, user: u}
}

func (f *mfaFixture) code(t *testing.T, secret string) string {
	t.Helper()
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(secret))
	if err != nil {
		t.Fatalf("decode secret: %v", err)
	}
	c, err := identity.TOTPCode(identity.DefaultTOTP, raw, identity.DefaultTOTP.Step(f.clk.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *mfaFixture) login(t *testing.T, ip string) (identity.LoginResult, error) {
	return f.svc.Login(t.Context(), identity.LoginInput{TenantID: f.tenant, Email: "ada@example.com", Password: mfaPassword, IP: ip})
}

func wantFault(t *testing.T, err error, code string) {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

// enable enrols and confirms MFA and returns the secret and the recovery codes.
func (f *mfaFixture) enable(t *testing.T) (string, []string) {
	t.Helper()
	ctx := t.Context()
	e, err := f.svc.EnrollMFA(ctx, f.tenant, f.user.ID, "caas")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.OtpauthURI, "otpauth://totp/") || e.QRPNG == "" {
		t.Fatalf("enrolment = %+v", e)
	}
	// Pending: login does not ask for MFA yet.
	if r, err := f.login(t, "10.0.0.1"); err != nil || r.MFARequired || r.AccessToken == "" {
		t.Fatalf("login while pending = %+v, %v", r, err)
	}
	if _, err := f.svc.ConfirmMFA(ctx, f.tenant, f.user.ID, "000000"); err == nil {
		// 1 in a million: the wrong code could be right.
		t.Log("000000 happened to be the code")
	}
	codes, err := f.svc.ConfirmMFA(ctx, f.tenant, f.user.ID, f.code(t, e.Secret))
	if err != nil {
		t.Fatalf("confirm: %v", err)
	}
	if len(codes) != identity.RecoveryCodeCount {
		t.Fatalf("%d recovery codes", len(codes))
	}
	return e.Secret, codes
}

func TestMFAFlow(t *testing.T) {
	f := newMFAFixture(t)
	ctx := t.Context()
	secret, codes := f.enable(t)
	if f.events.count(identity.EventMFAEnabled) != 1 {
		t.Errorf("events = %+v", f.events.events)
	}
	if _, err := f.svc.EnrollMFA(ctx, f.tenant, f.user.ID, "caas"); err == nil {
		t.Error("enrol with MFA on: want mfa_already_enabled")
	}

	// The code used to confirm is spent: a login must wait for the next step.
	f.clk.Advance(30 * time.Second)
	r, err := f.login(t, "10.0.0.1")
	if err != nil || !r.MFARequired || r.MFAToken == "" || r.AccessToken != "" {
		t.Fatalf("login with MFA = %+v, %v", r, err)
	}
	code := f.code(t, secret)
	tok, err := f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: code, IP: "10.0.0.1"})
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("verify = %+v, %v", tok, err)
	}
	// The challenge is single-use.
	_, err = f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: code, IP: "10.0.0.1"})
	wantFault(t, err, "invalid_mfa_token")

	// Replay: the same code on a new challenge is refused.
	r, _ = f.login(t, "10.0.0.1")
	_, err = f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: code, IP: "10.0.0.1"})
	wantFault(t, err, "invalid_mfa_code")

	// A recovery code works once.
	_, err = f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, RecoveryCode: strings.ToUpper(codes[0]), IP: "10.0.0.1"})
	if err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	r, _ = f.login(t, "10.0.0.1")
	_, err = f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, RecoveryCode: codes[0], IP: "10.0.0.1"})
	wantFault(t, err, "invalid_mfa_code")
	if f.events.count(identity.EventRecoveryUsed) != 1 {
		t.Errorf("recovery events = %d", f.events.count(identity.EventRecoveryUsed))
	}

	// Another tenant's id with the same user id finds nothing.
	if err := f.svc.DisableMFA(ctx, ids.Random{}.New(ids.Tenant), f.user.ID, "", codes[1]); err == nil {
		t.Error("disable from another tenant succeeded")
	}
	// Disable needs a good code.
	if err := f.svc.DisableMFA(ctx, f.tenant, f.user.ID, "", "aaaaa-aaaaa"); err == nil {
		t.Error("disable with a wrong recovery code succeeded")
	}
	f.clk.Advance(30 * time.Second)
	if err := f.svc.DisableMFA(ctx, f.tenant, f.user.ID, f.code(t, secret), ""); err != nil {
		t.Fatalf("disable: %v", err)
	}
	if r, err := f.login(t, "10.0.0.1"); err != nil || r.MFARequired {
		t.Fatalf("login after disable = %+v, %v", r, err)
	}
	// Old recovery codes died with the factor.
	if err := f.svc.DisableMFA(ctx, f.tenant, f.user.ID, "", codes[2]); err == nil {
		t.Error("disable twice succeeded")
	}
}

func TestMFAChallengeEndsAfterFiveWrongCodes(t *testing.T) {
	f := newMFAFixture(t)
	ctx := t.Context()
	secret, _ := f.enable(t)
	f.clk.Advance(30 * time.Second)
	r, err := f.login(t, "10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	good := f.code(t, secret)
	bad := "000000"
	if bad == good {
		bad = "111111"
	}
	// Wrong codes also slow the account down (429): wait those out until five were judged.
	for wrongs, i := 0, 0; wrongs < identity.MFAChallengeMaxTries; i++ {
		if i > 20 {
			t.Fatal("five wrong codes were never judged")
		}
		_, err := f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: bad, IP: "10.0.0.2"})
		var fe *fault.Error
		if !errors.As(err, &fe) || (fe.Code != "invalid_mfa_code" && fe.Code != "too_many_attempts") {
			t.Fatalf("wrong code %d: %v", i, err)
		}
		if fe.Code == "too_many_attempts" {
			f.clk.Advance(time.Duration(fe.RetryAfter) * time.Second)
			continue
		}
		wrongs++
	}
	// Let any account delay pass, so only the ended challenge can refuse the good code.
	f.clk.Advance(time.Minute)
	good = f.code(t, secret)
	_, err = f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: good, IP: "10.0.0.2"})
	wantFault(t, err, "invalid_mfa_token")
	if f.events.count(identity.EventMFAFailed) < identity.MFAChallengeMaxTries {
		t.Errorf("mfa failed events = %d", f.events.count(identity.EventMFAFailed))
	}
}

// answer is a login outcome as a caller sees it: the problem code and Retry-After.
func answer(err error) string {
	var fe *fault.Error
	if err == nil {
		return "ok"
	}
	if errors.As(err, &fe) {
		if fe.RetryAfter > 0 {
			return fe.Code + "/" + time.Duration(fe.RetryAfter*int(time.Second)).String()
		}
		return fe.Code
	}
	return err.Error()
}

func TestLoginLockoutAndRecovery(t *testing.T) {
	f := newMFAFixture(t)
	ctx := t.Context()
	// run fails ten times, each time also trying once more at once, and returns what was seen.
	run := func(email, ip string) []string {
		var seen []string
		for i := 1; i <= 10; i++ {
			err := func() error {
				_, err := f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: email, Password: "wrong password!!", IP: ip})
				return err
			}()
			seen = append(seen, answer(err))
			_, err = f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: email, Password: "wrong password!!", IP: ip})
			a := answer(err)
			seen = append(seen, a)
			var fe *fault.Error
			if errors.As(err, &fe) && fe.RetryAfter > 0 && i < 10 {
				f.clk.Advance(time.Duration(fe.RetryAfter) * time.Second)
			}
		}
		return seen
	}
	known := run("ada@example.com", "10.0.0.3")
	want := []string{"invalid_credentials", "invalid_credentials", "invalid_credentials", "invalid_credentials",
		"invalid_credentials", "too_many_attempts/1s"}
	for i, w := range want {
		if known[i] != w {
			t.Fatalf("answers = %v, want to start with %v", known, want)
		}
	}
	if got := known[len(known)-1]; got != "too_many_attempts/15m0s" {
		t.Fatalf("after 10 failures: %s, want a 15 min lockout; all: %v", got, known)
	}
	if f.events.count(identity.EventLockout) != 1 {
		t.Errorf("lockout events = %d", f.events.count(identity.EventLockout))
	}
	// The right password is refused during the lockout, from any IP.
	_, err := f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: "ada@example.com", Password: mfaPassword, IP: "10.9.9.9"})
	wantFault(t, err, "too_many_attempts")

	// An unknown email sees exactly the same answers.
	unknown := run("nobody@example.com", "10.0.0.4")
	if strings.Join(unknown, ",") != strings.Join(known, ",") {
		t.Errorf("unknown email answers %v\nknown email answers   %v", unknown, known)
	}

	// After the lockout, the right password works, and the count starts again.
	f.clk.Advance(15 * time.Minute)
	if _, err := f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: "ada@example.com", Password: mfaPassword, IP: "10.0.0.3"}); err != nil {
		t.Fatalf("login after the lockout: %v", err)
	}
	_, err = f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: "ada@example.com", Password: "wrong password!!", IP: "10.0.0.3"})
	wantFault(t, err, "invalid_credentials")
	_, err = f.svc.Login(ctx, identity.LoginInput{TenantID: f.tenant, Email: "ada@example.com", Password: mfaPassword, IP: "10.0.0.3"})
	if err != nil {
		t.Fatalf("one failure after a success must not block: %v", err)
	}
}

func TestMFASecretsUnderTheKeyService(t *testing.T) {
	f := newMFAFixture(t)
	ctx := t.Context()
	secret, _ := f.enable(t)

	stored, err := f.mfa.Factor(ctx, f.tenant, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := keys.ParseCiphertext(stored.SealedSecret)
	if err != nil || h.Name != keys.SecretsKeyName || h.Version != 1 {
		t.Fatalf("stored secret %+v, %v", h, err)
	}
	if strings.Contains(stored.SealedSecret, secret) {
		t.Fatal("the stored secret shows the seed")
	}
	// Bound to its user: the ciphertext does not open as another user's.
	if _, err := f.keys.Decrypt(ctx, f.tenant, stored.SealedSecret, []byte("totp\x00usr_other")); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("opened for another user: %v", err)
	}

	if _, err := f.keys.RotateKey(ctx, keys.Caller{TenantID: f.tenant, Role: keys.RoleAdmin}, keys.SecretsKeyName); err != nil {
		t.Fatal(err)
	}
	moved, complete, err := f.svc.ReencryptSecrets(ctx)
	if err != nil || moved != 1 || !complete {
		t.Fatalf("re-encrypt: moved %d, complete %v, %v", moved, complete, err)
	}
	stored, _ = f.mfa.Factor(ctx, f.tenant, f.user.ID)
	if h, _, _ := keys.ParseCiphertext(stored.SealedSecret); h.Version != 2 {
		t.Fatalf("after re-encryption the secret is under version %d", h.Version)
	}
	if moved, _, err := f.svc.ReencryptSecrets(ctx); err != nil || moved != 0 {
		t.Fatalf("second run moved %d, %v", moved, err)
	}

	// The re-encrypted seed still verifies codes.
	f.clk.Advance(30 * time.Second)
	r, err := f.login(t, "10.0.0.1")
	if err != nil || !r.MFARequired {
		t.Fatalf("login = %+v, %v", r, err)
	}
	if _, err := f.svc.VerifyMFA(ctx, identity.VerifyMFAInput{MFAToken: r.MFAToken, Code: f.code(t, secret), IP: "10.0.0.1"}); err != nil {
		t.Fatalf("verify after re-encryption: %v", err)
	}
}
