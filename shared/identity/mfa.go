package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"caas.dev/shared/fault"
)

// Failures of MFA. Their codes are part of the API contract.
var (
	// ErrMFAAlreadyEnabled: the user has MFA on; disable it first to enrol again.
	ErrMFAAlreadyEnabled = fault.New(fault.Conflict, "mfa_already_enabled", "MFA is already enabled")
	// ErrMFANotEnrolled: confirm without a pending enrolment.
	ErrMFANotEnrolled = fault.New(fault.Conflict, "mfa_not_enrolled", "no MFA enrolment is pending")
	// ErrMFANotEnabled: the user has no MFA to verify or disable.
	ErrMFANotEnabled = fault.New(fault.Conflict, "mfa_not_enabled", "MFA is not enabled")
	// ErrInvalidMFACode: the code is wrong, expired or already used.
	ErrInvalidMFACode = fault.New(fault.Unauthorized, "invalid_mfa_code", "the code is wrong or was already used")
	// ErrInvalidMFAToken: the mfa_token is unknown, expired, used or ended by too many wrong codes.
	ErrInvalidMFAToken = fault.New(fault.Unauthorized, "invalid_mfa_token", "the MFA challenge is invalid or expired; log in again")
	// ErrCodeSpent is returned by MFAStore.SpendCode and SpendRecoveryCode for a used code.
	ErrCodeSpent = errors.New("code already spent")
)

// MFA limits.
const (
	MFAChallengeTTL      = 5 * time.Minute
	MFAChallengeMaxTries = 5
)

// MFAFactor is a user's TOTP secret, sealed by the key service under the tenant's secrets key
// (a ciphertext string).
type MFAFactor struct {
	TenantID     string
	UserID       string
	SealedSecret string
	CreatedAt    time.Time
}

// MFAChallenge is the second step of a login that needs MFA; it is found by the SHA-256 of
// its mfa_token.
type MFAChallenge struct {
	Hash      string
	TenantID  string
	UserID    string
	IP        string
	UserAgent string
	ExpiresAt time.Time
}

// MFAStore keeps factors, recovery codes, spent codes and challenges. Single-use things are
// spent by inserting into a unique index or deleting with a filter only one caller matches.
type MFAStore interface {
	// SavePending replaces the user's pending enrolment with f.
	SavePending(ctx context.Context, f MFAFactor) error
	// Pending returns the pending enrolment, or ErrMFANotEnrolled.
	Pending(ctx context.Context, tenantID, userID string) (MFAFactor, error)
	// Enable stores f as the active factor with the recovery code hashes and drops the pending
	// enrolment; ErrMFAAlreadyEnabled when a factor is active.
	Enable(ctx context.Context, f MFAFactor, recoveryHashes []string) error
	// Factor returns the active factor, or ErrMFANotEnabled.
	Factor(ctx context.Context, tenantID, userID string) (MFAFactor, error)
	// Disable deletes the active factor and the recovery codes; ErrMFANotEnabled when none.
	Disable(ctx context.Context, tenantID, userID string) error
	// SpendCode records that the code of this time step was used; ErrCodeSpent if it was.
	SpendCode(ctx context.Context, tenantID, userID string, step int64, at time.Time) error
	// SpendRecoveryCode deletes the recovery code with this hash; ErrCodeSpent when none.
	SpendRecoveryCode(ctx context.Context, tenantID, userID, hash string) error
	// CreateChallenge stores c.
	CreateChallenge(ctx context.Context, c MFAChallenge) error
	// Challenge returns the challenge with this hash, or ErrInvalidMFAToken.
	Challenge(ctx context.Context, hash string) (MFAChallenge, error)
	// EndChallenge deletes the challenge; ErrInvalidMFAToken when another caller did first.
	EndChallenge(ctx context.Context, hash string) error
	// FactorsAfter returns up to limit active factors of any tenant, in a fixed order, after
	// the one cursor names (empty: from the first), and the cursor of the last returned.
	FactorsAfter(ctx context.Context, cursor string, limit int) ([]MFAFactor, string, error)
	// ReplaceSecret stores sealed as the active factor's secret if it still holds f's, and
	// reports whether it did; a factor changed or removed meanwhile is left alone.
	ReplaceSecret(ctx context.Context, f MFAFactor, sealed string) (bool, error)
}

// Enrollment is what MfaEnroll answers: the secret three ways.
type Enrollment struct {
	Secret     string // base32, for typing into an app
	OtpauthURI string
	QRPNG      string // base64 PNG of the URI
}

// needMFA returns an error unless the MFA dependencies are set.
func (s *Service) needMFA() error {
	if s.MFA == nil || s.Secrets == nil {
		return errors.New("identity service: MFA and Secrets are required")
	}
	return nil
}

// recordAuthEvent stamps e with the clock and hands it to the sink, if any.
func (s *Service) recordAuthEvent(ctx context.Context, e Event) {
	if s.Events == nil {
		return
	}
	e.At = s.Clock.Now()
	s.Events.Record(ctx, e)
}

// EnrollMFA makes a new secret for the user and keeps it pending until ConfirmMFA.
func (s *Service) EnrollMFA(ctx context.Context, tenantID, userID, issuer string) (Enrollment, error) {
	if err := s.needMFA(); err != nil {
		return Enrollment{}, err
	}
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return Enrollment{}, err
	}
	if _, err := s.MFA.Factor(ctx, tenantID, userID); err == nil {
		return Enrollment{}, ErrMFAAlreadyEnabled
	} else if !errors.Is(err, ErrMFANotEnabled) {
		return Enrollment{}, fmt.Errorf("enrol mfa: %w", err)
	}
	if issuer == "" {
		issuer = "caas"
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return Enrollment{}, fmt.Errorf("enrol mfa: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Email, Secret: secret,
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return Enrollment{}, fmt.Errorf("enrol mfa: %w", err)
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return Enrollment{}, fmt.Errorf("enrol mfa: qr: %w", err)
	}
	png, err := encodePNG(img)
	if err != nil {
		return Enrollment{}, fmt.Errorf("enrol mfa: qr: %w", err)
	}
	sealed, err := s.sealSecret(ctx, tenantID, userID, secret)
	if err != nil {
		return Enrollment{}, err
	}
	if err := s.MFA.SavePending(ctx, MFAFactor{TenantID: tenantID, UserID: userID, SealedSecret: sealed,
		CreatedAt: s.Clock.Now()}); err != nil {
		return Enrollment{}, fmt.Errorf("enrol mfa: %w", err)
	}
	return Enrollment{Secret: key.Secret(), OtpauthURI: key.URL(), QRPNG: base64.StdEncoding.EncodeToString(png)}, nil
}

// checkTOTP verifies code against the factor and spends its time step.
func (s *Service) checkTOTP(ctx context.Context, f MFAFactor, code string) error {
	secret, err := s.openSecret(ctx, f)
	if err != nil {
		return err
	}
	now := s.Clock.Now()
	step, ok, err := VerifyTOTP(DefaultTOTP, secret, code, now)
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvalidMFACode
	}
	if err := s.MFA.SpendCode(ctx, f.TenantID, f.UserID, step, now); err != nil {
		if errors.Is(err, ErrCodeSpent) {
			return withDetail(ErrInvalidMFACode, "this code was already used; wait for the next one")
		}
		return fmt.Errorf("spend code: %w", err)
	}
	return nil
}

// ConfirmMFA checks a code of the pending secret, turns MFA on and returns the recovery codes,
// shown this once; only their hashes are kept.
func (s *Service) ConfirmMFA(ctx context.Context, tenantID, userID, code string) ([]string, error) {
	if err := s.needMFA(); err != nil {
		return nil, err
	}
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	if err := s.lockedOut(ctx, tenantID, u.Email, ""); err != nil {
		return nil, err
	}
	f, err := s.MFA.Pending(ctx, tenantID, userID)
	if err != nil {
		return nil, err
	}
	if err := s.checkTOTP(ctx, f, code); err != nil {
		s.recordAuthEvent(ctx, Event{Kind: EventMFAFailed, TenantID: tenantID, UserID: userID, Reason: "confirm_bad_code"})
		if errors.Is(err, ErrInvalidMFACode) {
			if ferr := s.countAccountFailure(ctx, tenantID, u.Email, userID, ""); ferr != nil {
				return nil, ferr
			}
		}
		return nil, err
	}
	codes, err := NewRecoveryCodes(RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = HashRecoveryCode(tenantID, userID, c)
	}
	f.CreatedAt = s.Clock.Now()
	if err := s.MFA.Enable(ctx, f, hashes); err != nil {
		return nil, err
	}
	s.recordAuthEvent(ctx, Event{Kind: EventMFAEnabled, TenantID: tenantID, UserID: userID})
	return codes, nil
}

// checkSecondFactor accepts a current TOTP code or an unused recovery code.
func (s *Service) checkSecondFactor(ctx context.Context, f MFAFactor, code, recovery string) (usedRecovery bool, err error) {
	switch {
	case code != "" && recovery != "":
		return false, withDetail(ErrInvalidMFACode, "send code or recovery_code, not both")
	case recovery != "":
		err := s.MFA.SpendRecoveryCode(ctx, f.TenantID, f.UserID, HashRecoveryCode(f.TenantID, f.UserID, recovery))
		if errors.Is(err, ErrCodeSpent) {
			return false, ErrInvalidMFACode
		}
		if err != nil {
			return false, fmt.Errorf("spend recovery code: %w", err)
		}
		return true, nil
	case code != "":
		return false, s.checkTOTP(ctx, f, code)
	}
	return false, ErrInvalidMFACode
}

// DisableMFA turns MFA off given a current code or a recovery code.
func (s *Service) DisableMFA(ctx context.Context, tenantID, userID, code, recovery string) error {
	if err := s.needMFA(); err != nil {
		return err
	}
	u, err := s.User(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	if err := s.lockedOut(ctx, tenantID, u.Email, ""); err != nil {
		return err
	}
	f, err := s.MFA.Factor(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	used, err := s.checkSecondFactor(ctx, f, code, recovery)
	if err != nil {
		s.recordAuthEvent(ctx, Event{Kind: EventMFAFailed, TenantID: tenantID, UserID: userID, Reason: "disable_bad_code"})
		if errors.Is(err, ErrInvalidMFACode) {
			if ferr := s.countAccountFailure(ctx, tenantID, u.Email, userID, ""); ferr != nil {
				return ferr
			}
		}
		return err
	}
	if used {
		s.recordAuthEvent(ctx, Event{Kind: EventRecoveryUsed, TenantID: tenantID, UserID: userID})
	}
	if err := s.MFA.Disable(ctx, tenantID, userID); err != nil {
		return err
	}
	s.recordAuthEvent(ctx, Event{Kind: EventMFADisabled, TenantID: tenantID, UserID: userID})
	return nil
}

// newChallenge stores a challenge for u and returns its mfa_token.
func (s *Service) newChallenge(ctx context.Context, u User, in LoginInput) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("mfa challenge: %w", err)
	}
	token := "mfa_" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
	c := MFAChallenge{Hash: hashChallenge(token), TenantID: u.TenantID, UserID: u.ID, IP: in.IP,
		UserAgent: in.UserAgent, ExpiresAt: s.Clock.Now().Add(MFAChallengeTTL)}
	if err := s.MFA.CreateChallenge(ctx, c); err != nil {
		return "", fmt.Errorf("mfa challenge: %w", err)
	}
	return token, nil
}

func hashChallenge(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifyMFAInput is the second step of a login.
type VerifyMFAInput struct {
	MFAToken     string
	Code         string
	RecoveryCode string
	IP           string
	UserAgent    string
}

// VerifyMFA completes a login that needed MFA and opens the session. A wrong code counts as a
// failed login of the account; after MFAChallengeMaxTries the challenge ends.
func (s *Service) VerifyMFA(ctx context.Context, in VerifyMFAInput) (Tokens, error) {
	if err := s.needMFA(); err != nil {
		return Tokens{}, err
	}
	h := hashChallenge(in.MFAToken)
	c, err := s.MFA.Challenge(ctx, h)
	if err != nil {
		return Tokens{}, err
	}
	now := s.Clock.Now()
	if !now.Before(c.ExpiresAt) {
		_ = s.MFA.EndChallenge(ctx, h)
		return Tokens{}, ErrInvalidMFAToken
	}
	u, err := s.User(ctx, c.TenantID, c.UserID)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.lockedOut(ctx, u.TenantID, u.Email, in.IP); err != nil {
		return Tokens{}, err
	}
	f, err := s.MFA.Factor(ctx, c.TenantID, c.UserID)
	if err != nil {
		return Tokens{}, err
	}
	used, err := s.checkSecondFactor(ctx, f, in.Code, in.RecoveryCode)
	if err != nil {
		if !errors.Is(err, ErrInvalidMFACode) {
			return Tokens{}, err
		}
		s.recordAuthEvent(ctx, Event{Kind: EventMFAFailed, TenantID: c.TenantID, UserID: c.UserID, IP: in.IP, UserAgent: in.UserAgent, Reason: "bad_code"})
		if ferr := s.loginFailed(ctx, u.TenantID, u.Email, u.ID, in.IP); ferr != nil {
			return Tokens{}, ferr
		}
		if s.Lockout != nil {
			n, ferr := s.Lockout.Fail(ctx, "mfa:"+h, now, func(int) time.Duration { return 0 }, MFAChallengeTTL)
			if ferr != nil {
				return Tokens{}, fmt.Errorf("mfa verify: %w", ferr)
			}
			if n >= MFAChallengeMaxTries {
				_ = s.MFA.EndChallenge(ctx, h)
			}
		}
		return Tokens{}, err
	}
	if err := s.MFA.EndChallenge(ctx, h); err != nil {
		return Tokens{}, err
	}
	if used {
		s.recordAuthEvent(ctx, Event{Kind: EventRecoveryUsed, TenantID: c.TenantID, UserID: c.UserID, IP: in.IP})
	}
	if err := s.loginSucceeded(ctx, u.TenantID, u.Email); err != nil {
		return Tokens{}, err
	}
	t, err := s.openSession(ctx, u, LoginInput{TenantID: u.TenantID, IP: in.IP, UserAgent: in.UserAgent})
	if err != nil {
		return Tokens{}, err
	}
	s.recordAuthEvent(ctx, Event{Kind: EventLoginSucceeded, TenantID: u.TenantID, UserID: u.ID, SessionID: t.SessionID, IP: in.IP, UserAgent: in.UserAgent})
	return t, nil
}
