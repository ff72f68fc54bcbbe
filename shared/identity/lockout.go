package identity

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"time"
)

// AttemptLimiter counts failures per key (an account, a source IP, an MFA challenge) and
// blocks a key until a time the caller computes from the count. Times come from the caller's
// clock, so tests control them.
type AttemptLimiter interface {
	// Blocked returns how long key must still wait at now, zero when it may try.
	Blocked(ctx context.Context, key string, now time.Time) (time.Duration, error)
	// Fail counts one failure of key at now and blocks the key for block(count); the count is
	// forgotten keep after the last failure. It returns the count, this failure included.
	Fail(ctx context.Context, key string, now time.Time, block func(n int) time.Duration, keep time.Duration) (int, error)
	// Reset forgets key's failures.
	Reset(ctx context.Context, key string) error
}

// LockoutPolicy says how failed logins of one account or one source IP slow it down: from
// the DelayAfter-th failure on, a delay of Base doubling per failure up to MaxDelay; from the
// LockAfter-th, a lockout of LockFor. Failures are forgotten Keep after the last one.
type LockoutPolicy struct {
	DelayAfter int
	Base       time.Duration
	MaxDelay   time.Duration
	LockAfter  int
	LockFor    time.Duration
	Keep       time.Duration
}

// DefaultAccountLockout: 5 failures then 1 s, 2 s, 4 s ... up to 1 min; after 10, 15 min.
var DefaultAccountLockout = LockoutPolicy{DelayAfter: 5, Base: time.Second, MaxDelay: time.Minute,
	LockAfter: 10, LockFor: 15 * time.Minute, Keep: 15 * time.Minute}

// DefaultIPLockout is looser: one address may be a NAT for many people.
var DefaultIPLockout = LockoutPolicy{DelayAfter: 20, Base: time.Second, MaxDelay: time.Minute,
	LockAfter: 100, LockFor: 15 * time.Minute, Keep: 15 * time.Minute}

// Delay is how long the n-th failure blocks.
func (p LockoutPolicy) Delay(n int) time.Duration {
	switch {
	case p.LockAfter > 0 && n >= p.LockAfter:
		return p.LockFor
	case n < p.DelayAfter:
		return 0
	}
	d := p.Base
	for i := p.DelayAfter; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	if d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d
}

func accountKey(tenantID, email string) string { return "acct:" + tenantID + ":" + email }
func ipKey(ip string) string                   { return "ip:" + ip }

func tooMany(wait time.Duration) error {
	e := *ErrTooManyAttempts
	e.RetryAfter = int((wait + time.Second - 1) / time.Second)
	return &e
}

// lockedOut fails with ErrTooManyAttempts while the account or the IP is blocked. The account
// is named by its normalised email, known or not, so a lockout tells nothing about whether the
// email exists.
func (s *Service) lockedOut(ctx context.Context, tenantID, email, ip string) error {
	if s.Lockout == nil {
		return nil
	}
	now := s.Clock.Now()
	var keys []string
	if ip != "" {
		keys = append(keys, ipKey(ip))
	}
	if email != "" {
		keys = append(keys, accountKey(tenantID, email))
	}
	for _, k := range keys {
		wait, err := s.Lockout.Blocked(ctx, k, now)
		if err != nil {
			return fmt.Errorf("login limit: %w", err)
		}
		if wait > 0 {
			return tooMany(wait)
		}
	}
	return nil
}

// loginFailed counts a failure for the IP and the account (its email), and records a lockout
// event when the account becomes locked; userID is empty for an unknown email.
func (s *Service) loginFailed(ctx context.Context, tenantID, email, userID, ip string) error {
	if s.Lockout == nil {
		return nil
	}
	now := s.Clock.Now()
	if _, err := s.Lockout.Fail(ctx, ipKey(ip), now, s.ipPolicy().Delay, s.ipPolicy().Keep); err != nil {
		return fmt.Errorf("login limit: %w", err)
	}
	return s.countAccountFailure(ctx, tenantID, email, userID, ip)
}

// countAccountFailure counts a failure of the account (its email) alone: wrong codes of a
// signed-in user confirming or disabling MFA.
func (s *Service) countAccountFailure(ctx context.Context, tenantID, email, userID, ip string) error {
	if s.Lockout == nil || email == "" {
		return nil
	}
	now := s.Clock.Now()
	p := s.accountPolicy()
	n, err := s.Lockout.Fail(ctx, accountKey(tenantID, email), now, p.Delay, p.Keep+p.LockFor)
	if err != nil {
		return fmt.Errorf("login limit: %w", err)
	}
	if p.LockAfter > 0 && n == p.LockAfter {
		s.recordAuthEvent(ctx, Event{Kind: EventLockout, TenantID: tenantID, UserID: userID, IP: ip, Reason: "too_many_failures"})
	}
	return nil
}

// loginSucceeded forgets the account's failures.
func (s *Service) loginSucceeded(ctx context.Context, tenantID, email string) error {
	if s.Lockout == nil {
		return nil
	}
	if err := s.Lockout.Reset(ctx, accountKey(tenantID, email)); err != nil {
		return fmt.Errorf("login limit: %w", err)
	}
	return nil
}

func (s *Service) accountPolicy() LockoutPolicy {
	if s.AccountLockout.DelayAfter > 0 {
		return s.AccountLockout
	}
	return DefaultAccountLockout
}

func (s *Service) ipPolicy() LockoutPolicy {
	if s.IPLockout.DelayAfter > 0 {
		return s.IPLockout
	}
	return DefaultIPLockout
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
