package identity

import (
	"errors"
	"testing"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

type fixture struct {
	svc      *Service
	store    *memStore
	limiter  *countLimiter
	verifier *Verifier
	clock    *clock.Fixed
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	clk := clock.NewFixed(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	store := newMemStore()
	lim := &countLimiter{limit: 3, failures: map[string]int{}}
	keys := memKeys{key: SigningKey{ID: "key_test", Generation: 1, Private: testKey, Status: KeyActive}}
	svc, err := NewService(Deps{
		Users: store, Sessions: store, Limiter: lim, Keys: &ActiveKeyCache{Store: keys},
		Tokens: &Issuer{Config: tokenCfg, Clock: clk, IDs: ids.Random{}},
		Argon2: cheap, Clock: clk, IDs: ids.Random{},
	})
	if err != nil {
		t.Fatal(err)
	}
	ver := &Verifier{Config: tokenCfg, Keys: &KeySet{Store: keys, Clock: clk}, Clock: clk}
	return &fixture{svc: svc, store: store, limiter: lim, verifier: ver, clock: clk}
}

const goodPassword = "correct horse battery"

func (f *fixture) register(t testing.TB, tenantID, email string) User {
	t.Helper()
	u, err := f.svc.Register(t.Context(), RegisterInput{TenantID: tenantID, Email: email, Password: goodPassword, DisplayName: "Ann"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	return u
}

func TestRegisterAndLogin(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, " Ann@Example.com ")
	if u.Email != "ann@example.com" || !ids.Valid(ids.User, u.ID) {
		t.Fatalf("registered %+v", u)
	}
	if _, err := f.svc.Register(t.Context(), RegisterInput{TenantID: tenantID, Email: "ANN@example.com",
		Password: goodPassword, DisplayName: "Other"}); !errors.Is(err, ErrEmailTaken) {
		t.Fatalf("second Register err = %v, want ErrEmailTaken", err)
	}

	tok, err := f.svc.Login(t.Context(), LoginInput{TenantID: tenantID, Email: "ann@EXAMPLE.com",
		Password: goodPassword, IP: "192.0.2.1", UserAgent: "test"})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	c, err := f.verifier.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	if c.Subject != u.ID || c.TenantID != tenantID || c.SessionID != tok.SessionID || tok.ExpiresIn != 15*time.Minute {
		t.Fatalf("claims %+v tokens %+v", c, tok)
	}
	ses, err := f.store.SessionByID(t.Context(), tenantID, tok.SessionID)
	if err != nil || ses.RefreshHash != HashRefreshToken(tok.RefreshToken) || ses.UserID != u.ID || ses.IP != "192.0.2.1" {
		t.Fatalf("session %+v, %v", ses, err)
	}
}

func TestRegisterRejects(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		in   RegisterInput
		want error
	}{
		{RegisterInput{TenantID: tenantID, Email: "bad", Password: goodPassword, DisplayName: "A"}, ErrInvalidEmail},
		{RegisterInput{TenantID: tenantID, Email: "a@b.io", Password: "short", DisplayName: "A"}, ErrWeakPassword},
		{RegisterInput{TenantID: tenantID, Email: "a@b.io", Password: goodPassword, DisplayName: ""}, ErrInvalidDisplayName},
	}
	for _, c := range cases {
		if _, err := f.svc.Register(t.Context(), c.in); !errors.Is(err, c.want) {
			t.Errorf("Register(%+v) err = %v, want %v", c.in, err, c.want)
		}
	}
	if len(f.store.users) != 0 {
		t.Fatal("a refused registration was stored")
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t)
	f.register(t, tenantID, "ann@example.com")
	otherTenant := ids.Random{}.New(ids.Tenant)
	cases := map[string]LoginInput{
		"wrong password":   {TenantID: tenantID, Email: "ann@example.com", Password: "wrong password!"},
		"unknown email":    {TenantID: tenantID, Email: "bob@example.com", Password: goodPassword},
		"unknown tenant":   {TenantID: otherTenant, Email: "ann@example.com", Password: goodPassword},
		"malformed tenant": {TenantID: "nope", Email: "ann@example.com", Password: goodPassword},
		"malformed email":  {TenantID: tenantID, Email: "not an email", Password: goodPassword},
	}
	i := 0
	for name, in := range cases {
		i++
		in.IP = "198.51.100." + string(rune('0'+i))
		_, err := f.svc.Login(t.Context(), in)
		if err != ErrInvalidCredentials {
			t.Errorf("%s: err = %v, want exactly ErrInvalidCredentials", name, err)
		}
		if f.limiter.failures["ip:"+in.IP] != 1 {
			t.Errorf("%s: the failure was not counted", name)
		}
	}
	if len(f.store.sessions) != 0 {
		t.Fatal("a failed login opened a session")
	}
}

func TestLoginRateLimited(t *testing.T) {
	f := newFixture(t)
	f.register(t, tenantID, "ann@example.com")
	bad := LoginInput{TenantID: tenantID, Email: "ann@example.com", Password: "wrong password!", IP: "203.0.113.9"}
	for range 3 {
		if _, err := f.svc.Login(t.Context(), bad); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("err = %v", err)
		}
	}
	good := bad
	good.Password = goodPassword
	_, err := f.svc.Login(t.Context(), good)
	fe := fault.As(err)
	if !errors.Is(err, ErrTooManyAttempts) || fe == nil || fe.RetryAfter != 2 {
		t.Fatalf("after 3 failures err = %v (%+v), want ErrTooManyAttempts with RetryAfter 2", err, fe)
	}
	good.IP = "203.0.113.10"
	if _, err := f.svc.Login(t.Context(), good); err != nil {
		t.Fatalf("another IP is limited too: %v", err)
	}
}

func TestUserLookups(t *testing.T) {
	f := newFixture(t)
	u := f.register(t, tenantID, "ann@example.com")
	if got, err := f.svc.User(t.Context(), tenantID, u.ID); err != nil || got.ID != u.ID {
		t.Fatalf("User = %+v, %v", got, err)
	}
	for _, id := range []string{"", "usr_x", "../etc", ids.Random{}.New(ids.User)} {
		if _, err := f.svc.User(t.Context(), tenantID, id); !errors.Is(err, ErrUserNotFound) {
			t.Errorf("User(%q) err = %v", id, err)
		}
	}
	if _, err := f.svc.User(t.Context(), ids.Random{}.New(ids.Tenant), u.ID); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("User across tenants err = %v", err)
	}
	if got, err := f.svc.FindByEmail(t.Context(), tenantID, "ANN@example.com"); err != nil || got.ID != u.ID {
		t.Fatalf("FindByEmail = %+v, %v", got, err)
	}
	if _, err := f.svc.FindByEmail(t.Context(), tenantID, "nope"); !errors.Is(err, ErrInvalidEmail) {
		t.Fatalf("FindByEmail(invalid) err = %v", err)
	}
}
