package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/ids"
)

// User is a person registered in a tenant. Email is normalised (NormalizeEmail) and unique
// within the tenant. PasswordHash is a PHC argon2id string.
type User struct {
	ID           string
	TenantID     string
	Email        string
	DisplayName  string
	PasswordHash string
	CreatedAt    time.Time
}

// Session is one login: the refresh token's family. RefreshHash is the SHA-256 of the current
// refresh token; rotation replaces it, logout sets RevokedAt.
type Session struct {
	ID          string
	TenantID    string
	UserID      string
	RefreshHash string
	CreatedAt   time.Time
	LastUsedAt  time.Time
	IP          string
	UserAgent   string
	RevokedAt   *time.Time
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

// SessionStore keeps login sessions.
type SessionStore interface {
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// SessionByID returns the tenant's session with this id, or ErrSessionNotFound.
	SessionByID(ctx context.Context, tenantID, sessionID string) (Session, error)
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
		PasswordHash: hash, CreatedAt: s.Clock.Now(),
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

// Login checks the credentials and opens a session. A wrong password, an unknown email, a
// malformed email and an unknown tenant all fail with ErrInvalidCredentials after the same
// argon2id work. Too many failures from one IP fail with ErrTooManyAttempts.
func (s *Service) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	limitKey := "ip:" + in.IP
	wait, err := s.Limiter.Blocked(ctx, limitKey)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if wait > 0 {
		e := *ErrTooManyAttempts
		e.RetryAfter = int((wait + time.Second - 1) / time.Second)
		return Tokens{}, &e
	}

	u, err := s.findForLogin(ctx, in.TenantID, in.Email)
	if err != nil {
		return Tokens{}, err
	}
	hash, err := s.dummy()
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	if u.ID != "" {
		hash = u.PasswordHash
	}
	ok, err := VerifyPassword(hash, in.Password)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: stored hash of %s: %w", u.ID, err)
	}
	if !ok || u.ID == "" {
		if err := s.Limiter.RecordFailure(ctx, limitKey); err != nil {
			return Tokens{}, fmt.Errorf("login: %w", err)
		}
		return Tokens{}, ErrInvalidCredentials
	}

	return s.openSession(ctx, u, in)
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

func (s *Service) openSession(ctx context.Context, u User, in LoginInput) (Tokens, error) {
	key, err := s.Keys.Get(ctx)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	refresh, refreshHash, err := NewRefreshToken()
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	now := s.Clock.Now()
	ses := Session{
		ID: s.IDs.New(ids.Session), TenantID: u.TenantID, UserID: u.ID, RefreshHash: refreshHash,
		CreatedAt: now, LastUsedAt: now, IP: truncate(in.IP, 64), UserAgent: truncate(strings.ToValidUTF8(in.UserAgent, "\uFFFD"), 512),
	}
	if err := s.Sessions.CreateSession(ctx, ses); err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	access, ttl, err := s.Tokens.Issue(key, u.TenantID, u.ID, ses.ID, RoleUser)
	if err != nil {
		return Tokens{}, fmt.Errorf("login: %w", err)
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: ttl, SessionID: ses.ID}, nil
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
