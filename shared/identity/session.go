package identity

import (
	"context"
	"fmt"
	"strings"
	"time"

	"caas.dev/shared/ids"
)

// Session is one login: the family of every refresh token rotated from the login's first one.
// RefreshHash is the SHA-256 of that first refresh token; ending the session sets RevokedAt,
// and the authorizer then refuses the session's access tokens.
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

// RefreshToken is the stored form of one issued refresh token: its hash (never the token), its
// session (the family) and its generation in that family, 0 for the login's token. Rotation
// issues generation g+1 when generation g is spent.
type RefreshToken struct {
	Hash       string
	TenantID   string
	UserID     string
	SessionID  string
	Generation int
	IssuedAt   time.Time
	ExpiresAt  time.Time
}

// Spend records that generation Generation of a session's refresh tokens was used at At. There
// is at most one per (session, generation): the store's unique key decides which of several
// concurrent refreshes spent it.
type Spend struct {
	TenantID   string
	SessionID  string
	Generation int
	At         time.Time
}

// SessionReader finds sessions; the Authorizer needs only this.
type SessionReader interface {
	// SessionByID returns the tenant's session with this id, or ErrSessionNotFound.
	SessionByID(ctx context.Context, tenantID, sessionID string) (Session, error)
}

// SessionStore keeps login sessions and their refresh tokens. Single use is enforced by
// SpendGeneration's insert into a unique key, never by read-then-update (DESIGN §4).
type SessionStore interface {
	SessionReader
	// CreateSession stores s.
	CreateSession(ctx context.Context, s Session) error
	// ListSessions returns at most limit of the user's live (not ended) sessions, the most
	// recently created first.
	ListSessions(ctx context.Context, tenantID, userID string, limit int) ([]Session, error)
	// TouchSession sets the session's LastUsedAt.
	TouchSession(ctx context.Context, tenantID, sessionID string, at time.Time) error
	// EndSession sets RevokedAt on the user's live session; false when there is none (unknown,
	// another user's, or already ended).
	EndSession(ctx context.Context, tenantID, userID, sessionID string, at time.Time) (bool, error)
	// EndUserSessions ends every live session of the user and returns how many it ended.
	EndUserSessions(ctx context.Context, tenantID, userID string, at time.Time) (int, error)
	// AddRefreshToken stores t.
	AddRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshTokenByHash returns the token with this hash, or ErrRefreshTokenNotFound.
	RefreshTokenByHash(ctx context.Context, hash string) (RefreshToken, error)
	// SpendGeneration records sp; it fails with ErrAlreadySpent when that generation of the
	// session was spent before, by this caller or a concurrent one.
	SpendGeneration(ctx context.Context, sp Spend) error
	// SpentGeneration returns the spend of that generation of the session, or ErrRefreshTokenNotFound.
	SpentGeneration(ctx context.Context, tenantID, sessionID string, generation int) (Spend, error)
}

// Defaults of session handling.
const (
	// DefaultRefreshTTL is how long a refresh token may be used after it was issued.
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// DefaultRefreshGrace is how long after a generation was spent a retry of the same refresh
	// still gets a pair (of the next generation) instead of revoking the family.
	DefaultRefreshGrace = 10 * time.Second
	// MaxListedSessions bounds GET /v1/auth/sessions: the most recent sessions, no paging.
	MaxListedSessions = 100
	// maxRefreshTokenLen bounds what is hashed and looked up; ours are 43 characters.
	maxRefreshTokenLen = 128
)

// newSession stores a new session for u with its generation-0 refresh token, and signs an
// access token for it. The Login flow (and MFA verification) call it through openSession.
func newSession(ctx context.Context, store SessionStore, keys *ActiveKeyCache, issuer *Issuer,
	now time.Time, gen ids.Generator, u User, ip, userAgent string) (Tokens, error) {
	key, err := keys.Get(ctx)
	if err != nil {
		return Tokens{}, fmt.Errorf("open session: %w", err)
	}
	refresh, refreshHash, err := NewRefreshToken()
	if err != nil {
		return Tokens{}, fmt.Errorf("open session: %w", err)
	}
	ses := Session{
		ID: gen.New(ids.Session), TenantID: u.TenantID, UserID: u.ID, RefreshHash: refreshHash,
		CreatedAt: now, LastUsedAt: now, IP: truncate(ip, 64),
		UserAgent: truncate(strings.ToValidUTF8(userAgent, "\uFFFD"), 512),
	}
	if err := store.CreateSession(ctx, ses); err != nil {
		return Tokens{}, fmt.Errorf("open session: %w", err)
	}
	rt := RefreshToken{Hash: refreshHash, TenantID: u.TenantID, UserID: u.ID, SessionID: ses.ID,
		Generation: 0, IssuedAt: now, ExpiresAt: now.Add(DefaultRefreshTTL)}
	if err := store.AddRefreshToken(ctx, rt); err != nil {
		return Tokens{}, fmt.Errorf("open session: %w", err)
	}
	access, ttl, err := issuer.Issue(key, u.TenantID, u.ID, ses.ID, RoleOf(u))
	if err != nil {
		return Tokens{}, fmt.Errorf("open session: %w", err)
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: ttl, SessionID: ses.ID}, nil
}

// openSession opens a session for u after a successful login.
func (s *Service) openSession(ctx context.Context, u User, in LoginInput) (Tokens, error) {
	return newSession(ctx, s.Sessions, s.Keys, s.Tokens, s.Clock.Now(), s.IDs, u, in.IP, in.UserAgent)
}

// Open opens a session for a user whose credentials were checked, returning its first pair.
func (s *SessionService) Open(ctx context.Context, u User, ip, userAgent string) (Tokens, error) {
	return newSession(ctx, s.Sessions, s.Keys, s.Tokens, s.Clock.Now(), s.IDs, u, ip, userAgent)
}
