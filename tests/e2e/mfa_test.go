package e2e

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpAt computes the code of secret for the time step step with pquerna/otp, independently
// of the platform's own TOTP code.
func totpAt(t *testing.T, secret string, step int64) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Unix(step*30, 0), totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatalf("generate code: %v", err)
	}
	return code
}

func TestMFA(t *testing.T) {
	w := getWorld(t)
	c := api()
	u, err := registerAndLogin(c, w.a, "mfa"+randomHex(3))
	if err != nil {
		t.Fatal(err)
	}
	spent := map[int64]bool{}
	// freshCode returns a code one step either side of now whose step was not used yet.
	freshCode := func(t *testing.T, secret string) string {
		t.Helper()
		cur := time.Now().Unix() / 30
		for _, s := range []int64{cur, cur + 1, cur - 1} {
			if !spent[s] {
				spent[s] = true
				return totpAt(t, secret, s)
			}
		}
		t.Fatal("no unused step near now")
		return ""
	}
	loginStep := func(t *testing.T) string {
		t.Helper()
		r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": u.tenant.id},
			map[string]string{"email": u.email, "password": u.password})
		mustStatus(t, r, http.StatusOK)
		if m := r.obj(); m["mfa_required"] != true || r.str("mfa_token") == "" || m["access_token"] != nil {
			t.Fatalf("login with MFA on: want {mfa_required, mfa_token} only: %s", r)
		}
		return r.str("mfa_token")
	}

	// Enrol: the secret three ways.
	r := c.do(t, "POST", "/v1/auth/mfa/enroll", bearer(u.token), nil)
	mustStatus(t, r, http.StatusOK)
	wantFields(t, r, "secret", "otpauth_uri", "qr_png_base64")
	secret := r.str("secret")
	if uri, err := url.Parse(r.str("otpauth_uri")); err != nil || uri.Scheme != "otpauth" || uri.Query().Get("secret") != secret {
		t.Errorf("otpauth_uri %q does not carry the secret", r.str("otpauth_uri"))
	}
	if png, err := base64.StdEncoding.DecodeString(r.str("qr_png_base64")); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("qr_png_base64 is not a base64 PNG: %v", err)
	}
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("enrol answer may be cached: Cache-Control %q", r.header.Get("Cache-Control"))
	}

	// Pending until confirmed: login still answers tokens.
	if _, err := login(c, u); err != nil {
		t.Fatalf("login while MFA is pending: %v", err)
	}

	// Confirm: a wrong code is refused, a right one shows 10 recovery codes.
	wrong := "000000"
	if cur := time.Now().Unix() / 30; wrong == totpAt(t, secret, cur) || wrong == totpAt(t, secret, cur+1) || wrong == totpAt(t, secret, cur-1) {
		wrong = "999999"
	}
	r = c.do(t, "POST", "/v1/auth/mfa/confirm", bearer(u.token), map[string]string{"code": wrong})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_code")
	r = c.do(t, "POST", "/v1/auth/mfa/confirm", bearer(u.token), map[string]string{"code": freshCode(t, secret)})
	mustStatus(t, r, http.StatusOK)
	codes, _ := r.obj()["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("want 10 recovery codes: %s", r)
	}
	r = c.do(t, "POST", "/v1/auth/mfa/enroll", bearer(u.token), nil)
	wantProblem(t, r, http.StatusConflict, "mfa_already_enabled")

	// Login now needs the second step.
	token := loginStep(t)
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "code": wrong})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_code")
	code := freshCode(t, secret)
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "code": code})
	mustStatus(t, r, http.StatusOK)
	wantFields(t, r, "access_token", "refresh_token", "token_type", "expires_in")
	me := c.do(t, "GET", "/v1/users/me", bearer(r.str("access_token")), nil)
	if wantStatus(t, me, http.StatusOK) && me.str("id") != u.id {
		t.Errorf("the MFA login's token is not %s's: %s", u.id, me)
	}
	// The challenge is single-use; the code too.
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "code": code})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_token")
	token = loginStep(t)
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "code": code})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_code")

	// A recovery code works once.
	rc := codes[0].(string)
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "recovery_code": rc})
	mustStatus(t, r, http.StatusOK)
	token = loginStep(t)
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": token, "recovery_code": rc})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_code")

	// Bad input.
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"code": code})
	wantProblem(t, r, http.StatusBadRequest, "missing_field")
	r = c.do(t, "POST", "/v1/auth/mfa/verify", nil, map[string]string{"mfa_token": "mfa_nonsense", "code": code})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_token")
	r = c.do(t, "POST", "/v1/auth/mfa/enroll", nil, nil)
	if r.status != http.StatusUnauthorized {
		t.Errorf("enrol without a token: want 401: %s", r)
	}

	// Disable needs a good code; then login answers tokens again.
	r = c.do(t, "POST", "/v1/auth/mfa/disable", bearer(u.token), map[string]string{"recovery_code": rc})
	wantProblem(t, r, http.StatusUnauthorized, "invalid_mfa_code")
	r = c.do(t, "POST", "/v1/auth/mfa/disable", bearer(u.token), map[string]string{"code": freshCode(t, secret)})
	if r.status != http.StatusNoContent {
		t.Fatalf("disable: want 204: %s", r)
	}
	if _, err := login(c, u); err != nil {
		t.Errorf("login after disabling MFA: %v", err)
	}
}
