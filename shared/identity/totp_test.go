package identity

import (
	"strings"
	"testing"
	"time"

	"caas.dev/shared/clock"
)

// TestTOTPRFC6238Vectors runs the RFC 6238 Appendix B vectors through VerifyTOTP, the code
// logins use, with a fixed clock at each time of the table.
func TestTOTPRFC6238Vectors(t *testing.T) {
	seeds := map[TOTPAlgorithm][]byte{
		TOTPSHA1:   []byte("12345678901234567890"),
		TOTPSHA256: []byte("12345678901234567890123456789012"),
		TOTPSHA512: []byte(strings.Repeat("1234567890", 6) + "1234"),
	}
	vectors := []struct {
		unix int64
		alg  TOTPAlgorithm
		code string
	}{
		{59, TOTPSHA1, "94287082"}, {59, TOTPSHA256, "46119246"}, {59, TOTPSHA512, "90693936"},
		{1111111109, TOTPSHA1, "07081804"}, {1111111109, TOTPSHA256, "68084774"}, {1111111109, TOTPSHA512, "25091201"},
		{1111111111, TOTPSHA1, "14050471"}, {1111111111, TOTPSHA256, "67062674"}, {1111111111, TOTPSHA512, "99943326"},
		{1234567890, TOTPSHA1, "89005924"}, {1234567890, TOTPSHA256, "91819424"}, {1234567890, TOTPSHA512, "93441116"},
		{2000000000, TOTPSHA1, "69279037"}, {2000000000, TOTPSHA256, "90698825"}, {2000000000, TOTPSHA512, "38618901"},
		{20000000000, TOTPSHA1, "65353130"}, {20000000000, TOTPSHA256, "77737706"}, {20000000000, TOTPSHA512, "47863826"},
	}
	for _, v := range vectors {
		p := TOTPParams{Algorithm: v.alg, Digits: 8, Period: 30 * time.Second, Skew: 1}
		clk := clock.NewFixed(time.Unix(v.unix, 0))
		step, ok, err := VerifyTOTP(p, seeds[v.alg], v.code, clk.Now())
		if err != nil || !ok || step != v.unix/30 {
			t.Errorf("%s at %d: VerifyTOTP(%s) = %d, %v, %v; want step %d accepted", v.alg, v.unix, v.code, step, ok, err, v.unix/30)
		}
		// One step either side is accepted, two are not.
		clk.Advance(30 * time.Second)
		if _, ok, _ := VerifyTOTP(p, seeds[v.alg], v.code, clk.Now()); !ok {
			t.Errorf("%s at %d+30s: refused; want accepted (skew 1)", v.alg, v.unix)
		}
		clk.Advance(30 * time.Second)
		if _, ok, _ := VerifyTOTP(p, seeds[v.alg], v.code, clk.Now()); ok {
			t.Errorf("%s at %d+60s: accepted; want refused", v.alg, v.unix)
		}
		wrong := []byte(v.code)
		wrong[0] = '0' + (wrong[0]-'0'+1)%10
		if _, ok, _ := VerifyTOTP(p, seeds[v.alg], string(wrong), time.Unix(v.unix, 0)); ok {
			t.Errorf("%s at %d: wrong code %s accepted", v.alg, v.unix, wrong)
		}
	}
}

func TestLockoutPolicyDelays(t *testing.T) {
	p := DefaultAccountLockout
	want := map[int]time.Duration{1: 0, 4: 0, 5: time.Second, 6: 2 * time.Second, 7: 4 * time.Second,
		9: 16 * time.Second, 10: 15 * time.Minute, 11: 15 * time.Minute}
	for n, d := range want {
		if got := p.Delay(n); got != d {
			t.Errorf("Delay(%d) = %v, want %v", n, got, d)
		}
	}
	capped := LockoutPolicy{DelayAfter: 1, Base: time.Second, MaxDelay: 3 * time.Second}
	if got := capped.Delay(50); got != 3*time.Second {
		t.Errorf("capped Delay(50) = %v, want 3s", got)
	}
}
