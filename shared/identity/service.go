package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// User is a person registered in a tenant. Email is normalised (NormalizeEmail) and unique
// within the tenant. PasswordHash is a PHC argon2id string. Role is RoleAdmin or RoleUser;
// empty reads as RoleUser (RoleOf).
type User struct {
	ID           string
	TenantID     string
	Email        string
	DisplayName  string
	PasswordHash string
	Role         string
	CreatedAt    time.Time
}

// UserStore keeps users. Every method is scoped to one tenant.
type UserStore interface {
	// CreateUser stores u; it fails with ErrEmailTaken when the tenant has a user with u.Email.
	CreateUser(ctx context.Context, u User) error
	// UserByID returns the tenant's user with this id, or ErrUserNotFound.
	UserByID(ctx context.Context, tenantID, userID string) (User, error)
	// UserByEmail returns the tenant's user with this normalised email, or ErrUserNotFound.
	UserByEmail(ctx context.Context, tenantID, email string) (User, error)
}

// FailureLimiter counts failed logins per key (a source IP) in a fixed window.
type FailureLimiter interface {
	// Blocked returns how long key must wait before trying again, or zero when it may try now.
	Blocked(ctx context.Context, key string) (time.Duration, error)
	// RecordFailure counts one failure for key.
	RecordFailure(ctx context.Context, key string) error
}

// Deps are what a Service works with. Sessions, Limiter, Keys and Tokens are needed by Login
// only; a function that never logs anyone in may leave them nil.
type Deps struct {
	Users    UserStore
	Sessions SessionStore
	Limiter  FailureLimiter
	Keys     *ActiveKeyCache
	Tokens   *Issuer
	Argon2   Argon2Params
	Clock    clock.Clock
	IDs      ids.Generator

	// MFA and Secrets are needed by the MFA operations and by a Login that honours MFA; a nil
	// MFA store logs in without a second factor.
	MFA     MFAStore
	Secrets SecretKeeper
	// Lockout slows down and locks out failing accounts and IPs (AccountLockout, IPLockout, or
	// the defaults when zero); nil falls back to Limiter per IP only.
	Lockout        AttemptLimiter
	AccountLockout LockoutPolicy
	IPLockout      LockoutPolicy
	// Events receives the authentication events; nil drops them.
	Events EventSink
}

// Service registers users, logs them in and looks them up.
type Service struct {
	Deps

	// dummyHash is verified against when the user does not exist, so an unknown email costs
	// the same argon2id work as a wrong password. It is made on first use, so functions that
	// never log anyone in do not pay for it at cold start.
	dummyOnce sync.Once
	dummyHash string
	dummyErr  error
}

// NewService returns a Service working with d.
func NewService(d Deps) (*Service, error) {
	if d.Users == nil || d.Clock == nil || d.IDs == nil || d.Argon2.KeyLen == 0 {
		return nil, errors.New("new identity service: Users, Clock, IDs and Argon2 are required")
	}
	return &Service{Deps: d}, nil
}

func (s *Service) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = HashPassword(s.Argon2, "dummy password never matched by anyone")
	})
	return s.dummyHash, s.dummyErr
}

// RegisterInput is what Register needs; fields are validated and normalised by Register.
type RegisterInput struct {
	TenantID    string
	Email       string
	Password    string
	DisplayName string
}

// Register creates a user and returns it. It fails with ErrInvalidEmail, ErrWeakPassword,
// ErrInvalidDisplayName or ErrEmailTaken.
func (s *Service) Register(ctx context.Context, in RegisterInput) (User, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return User{}, err
	}
	if err := CheckPassword(in.Password); err != nil {
		return User{}, err
	}
	name, err := NormalizeDisplayName(in.DisplayName)
	if err != nil {
		return User{}, err
	}

	hash, err := HashPassword(s.Argon2, in.Password)
	if err != nil {
		return User{}, err
	}
	u := User{
		ID: s.IDs.New(ids.User), TenantID: in.TenantID, Email: email, DisplayName: name,
		PasswordHash: hash, Role: RoleUser, CreatedAt: s.Clock.Now(),
	}
	if err := s.Users.CreateUser(ctx, u); err != nil {
		return User{}, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// LoginInput is a login attempt and where it came from.
type LoginInput struct {
	TenantID  string
	Email     string
	Password  string
	IP        string
	UserAgent string
}

// Tokens are what a successful login returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	SessionID    string
}

// LoginResult is a login's outcome: the tokens, or, when the user has MFA on, the token of
// the challenge MfaVerify completes.
type LoginResult struct {
	Tokens
	MFARequired bool
	MFAToken    string
}

// Login checks the credentials and opens a session, or, for a user with MFA on, a challenge.
// A wrong password, an unknown email, a malformed email and an unknown tenant all fail with
// ErrInvalidCredentials after the same argon2id work. Too many failures for one account (known
// or not) or from one IP fail with ErrTooManyAttempts and a growing Retry-After.
func (s *Service) Login(ctx context.Context, in LoginInput) (LoginResult, error) {
	email, _ := NormalizeEmail(in.Email)
	if s.Lockout != nil {
		if err := s.lockedOut(ctx, in.TenantID, email, in.IP); err != nil {
			return LoginResult{}, err
		}
	} else if s.Limiter != nil {
		wait, err := s.Limiter.Blocked(ctx, ipKey(in.IP))
		if err != nil {
			return LoginResult{}, fmt.Errorf("login: %w", err)
		}
		if wait > 0 {
			return LoginResult{}, tooMany(wait)
		}
	}

	u, err := s.findForLogin(ctx, in.TenantID, in.Email)
	if err != nil {
		return LoginResult{}, err
	}
	hash, err := s.dummy()
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	if u.ID != "" {
		hash = u.PasswordHash
	}
	ok, err := VerifyPassword(hash, in.Password)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: stored hash of %s: %w", u.ID, err)
	}
	if !ok || u.ID == "" {
		reason := "bad_password"
		if u.ID == "" {
			reason = "unknown_account"
		}
		s.recordAuthEvent(ctx, Event{Kind: EventLoginFailed, TenantID: in.TenantID, UserID: u.ID, IP: in.IP, UserAgent: in.UserAgent, Reason: reason})
		if s.Lockout != nil {
			err = s.loginFailed(ctx, in.TenantID, email, u.ID, in.IP)
		} else if s.Limiter != nil {
			err = s.Limiter.RecordFailure(ctx, ipKey(in.IP))
		}
		if err != nil {
			return LoginResult{}, fmt.Errorf("login: %w", err)
		}
		return LoginResult{}, ErrInvalidCredentials
	}

	if s.MFA != nil {
		_, err := s.MFA.Factor(ctx, u.TenantID, u.ID)
		switch {
		case err == nil:
			token, err := s.newChallenge(ctx, u, in)
			if err != nil {
				return LoginResult{}, err
			}
			return LoginResult{MFARequired: true, MFAToken: token}, nil
		case !errors.Is(err, ErrMFANotEnabled):
			return LoginResult{}, fmt.Errorf("login: %w", err)
		}
	}
	if err := s.loginSucceeded(ctx, u.TenantID, u.Email); err != nil {
		return LoginResult{}, err
	}
	t, err := s.openSession(ctx, u, in)
	if err != nil {
		return LoginResult{}, err
	}
	s.recordAuthEvent(ctx, Event{Kind: EventLoginSucceeded, TenantID: u.TenantID, UserID: u.ID, SessionID: t.SessionID, IP: in.IP, UserAgent: in.UserAgent})
	return LoginResult{Tokens: t}, nil
}

// findForLogin returns the user, or a zero User when there is none to check against.
func (s *Service) findForLogin(ctx context.Context, tenantID, rawEmail string) (User, error) {
	email, err := NormalizeEmail(rawEmail)
	if err != nil || !ids.Valid(ids.Tenant, tenantID) {
		return User{}, nil
	}
	u, err := s.Users.UserByEmail(ctx, tenantID, email)
	if errors.Is(err, ErrUserNotFound) {
		return User{}, nil
	}
	if err != nil {
		return User{}, fmt.Errorf("login: %w", err)
	}
	return u, nil
}

// User returns the tenant's user, or ErrUserNotFound (also for a malformed id).
func (s *Service) User(ctx context.Context, tenantID, userID string) (User, error) {
	if !ids.Valid(ids.User, userID) {
		return User{}, ErrUserNotFound
	}
	u, err := s.Users.UserByID(ctx, tenantID, userID)
	if err != nil {
		return User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// FindByEmail returns the tenant's user with this email (normalised first), ErrInvalidEmail
// or ErrUserNotFound.
func (s *Service) FindByEmail(ctx context.Context, tenantID, rawEmail string) (User, error) {
	email, err := NormalizeEmail(rawEmail)
	if err != nil {
		return User{}, err
	}
	u, err := s.Users.UserByEmail(ctx, tenantID, email)
	if err != nil {
		return User{}, fmt.Errorf("find user: %w", err)
	}
	return u, nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
