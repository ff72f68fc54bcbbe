package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The account lockout of the second platform TestLockout starts: tiny, so a test can go through
// the delays, the lockout and its end in seconds.
const (
	testDelayAfter = 2
	testDelayMax   = time.Second
	testLockAfter  = 4
	testLockFor    = 3 * time.Second
)

// loginStep is one login attempt of a sequence and what it answered.
type loginStep struct {
	status     int
	retryAfter int    // the Retry-After header in seconds, 0 when absent
	body       string // the body without its request_id, for comparing two sequences
}

// TestLockout runs a second `caas run` with tiny account lockout limits and checks, for a known
// email and an unknown one side by side, that wrong passwords answer 401 then 429 with
// Retry-After, that during the lockout even the right password answers 429, that the two
// sequences are the same (the answers never tell whether an email exists), and that the right
// password logs in once the lockout has expired.
func TestLockout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second platform")
	}
	p := startSecondPlatformWith(t, map[string]string{
		"CAAS_LOGIN_DELAY_AFTER":   strconv.Itoa(testDelayAfter),
		"CAAS_LOGIN_DELAY_MAX":     testDelayMax.String(),
		"CAAS_LOGIN_LOCKOUT_AFTER": strconv.Itoa(testLockAfter),
		"CAAS_LOGIN_LOCKOUT_FOR":   testLockFor.String(),
	})
	c := &client{base: p.baseURL, hc: &http.Client{Timeout: 30 * time.Second}}
	tn, err := createTenantOn(c, p, "Lockout "+suffix)
	if err != nil {
		t.Fatal(err)
	}
	u := mustRegister(t, c, tn, "lockout-user")
	unknown := "nobody." + randomHex(4) + "@example.test"

	attempt := func(email, password string) loginStep {
		t.Helper()
		r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": tn.id},
			map[string]string{"email": email, "password": password})
		if r.status == http.StatusTooManyRequests {
			wantProblem(t, r, http.StatusTooManyRequests, "too_many_attempts")
		}
		if r.status == http.StatusUnauthorized {
			wantProblem(t, r, http.StatusUnauthorized, "invalid_credentials")
		}
		s := loginStep{status: r.status}
		if h := r.header.Get("Retry-After"); h != "" {
			if s.retryAfter, err = strconv.Atoi(h); err != nil || s.retryAfter < 1 {
				t.Errorf("Retry-After %q: want whole seconds, at least 1: %s", h, r)
			}
		}
		if m := r.obj(); m != nil {
			delete(m, "request_id")
			s.body = jsonString(m)
		}
		return s
	}
	// waitOut sleeps the Retry-After of s, and a little more for the clocks' sake. A wait
	// beyond the configured lockout means the limits were not applied: fail now, not in 15 min.
	waitOut := func(s loginStep) {
		t.Helper()
		if s.retryAfter > int(testLockFor/time.Second) {
			t.Fatalf("Retry-After %d s, beyond CAAS_LOGIN_LOCKOUT_FOR %s: were the limits applied?", s.retryAfter, testLockFor)
		}
		time.Sleep(time.Duration(s.retryAfter)*time.Second + 200*time.Millisecond)
	}

	// sequence runs the same attempts for one email: failures up to the lockout, the right
	// password during it (of u: for the unknown email it is just another password).
	sequence := func(email string) []loginStep {
		var steps []loginStep
		for i := 1; i <= testLockAfter; i++ {
			s := attempt(email, "wrong password "+strconv.Itoa(i))
			steps = append(steps, s)
			if i == testDelayAfter {
				// Delayed now: an immediate retry is refused before any password is checked.
				blocked := attempt(email, u.password)
				steps = append(steps, blocked)
				waitOut(blocked)
			} else if i > testDelayAfter && i < testLockAfter {
				time.Sleep(testDelayMax + 200*time.Millisecond)
			}
		}
		return append(steps, attempt(email, u.password))
	}

	known := sequence(u.email)
	t.Logf("known email: %+v", known)
	var want []int
	for i := 1; i <= testLockAfter; i++ {
		want = append(want, http.StatusUnauthorized)
		if i == testDelayAfter {
			want = append(want, http.StatusTooManyRequests)
		}
	}
	want = append(want, http.StatusTooManyRequests)
	if len(known) != len(want) {
		t.Fatalf("%d attempts answered, want %d", len(known), len(want))
	}
	for i, s := range known {
		if s.status != want[i] {
			t.Errorf("attempt %d of the known email: status %d, want %d", i+1, s.status, want[i])
		}
		if (s.status == http.StatusTooManyRequests) != (s.retryAfter > 0) {
			t.Errorf("attempt %d of the known email: status %d with Retry-After %d: want Retry-After exactly on a 429", i+1, s.status, s.retryAfter)
		}
	}
	delayed, locked := known[testDelayAfter], known[len(known)-1]
	if delayed.retryAfter > int(testDelayMax/time.Second) {
		t.Errorf("Retry-After %d while delayed, above CAAS_LOGIN_DELAY_MAX %s", delayed.retryAfter, testDelayMax)
	}
	if locked.retryAfter < 2 || locked.retryAfter > int(testLockFor/time.Second) {
		t.Errorf("Retry-After %d while locked out, want about CAAS_LOGIN_LOCKOUT_FOR %s", locked.retryAfter, testLockFor)
	}

	// The unknown email runs while the known one is locked out: accounts are counted apart.
	other := sequence(unknown)
	t.Logf("unknown email: %+v", other)
	for i := range known {
		if i >= len(other) {
			t.Errorf("the unknown email answered %d attempts, the known one %d", len(other), len(known))
			break
		}
		k, o := known[i], other[i]
		if k.status != o.status || k.body != o.body || k.retryAfter != o.retryAfter {
			t.Errorf("attempt %d tells the emails apart: known %+v, unknown %+v", i+1, k, o)
		}
	}

	waitOut(locked)
	r := c.do(t, "POST", "/v1/auth/login", hdr{"X-Tenant-ID": tn.id},
		map[string]string{"email": u.email, "password": u.password})
	if wantStatus(t, r, http.StatusOK) {
		wantFields(t, r, "access_token", "refresh_token")
	}
	if s := attempt(unknown, u.password); s.status != http.StatusUnauthorized {
		t.Errorf("the unknown email after its lockout: status %d, want 401", s.status)
	}
}
