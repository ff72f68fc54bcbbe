package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

// Failures of refresh and session handling. Their codes are part of the API contract.
var (
	// ErrInvalidRefreshToken: the refresh token is unknown, expired, spent (reuse, which also
	// ends its session) or belongs to an ended session. One answer for all, as OAuth's
	// invalid_grant.
	ErrInvalidRefreshToken = fault.New(fault.Unauthorized, "invalid_refresh_token", "the refresh token is invalid")
	// ErrRefreshTokenNotFound: no stored refresh token (or spend) matches; internal to stores.
	ErrRefreshTokenNotFound = errors.New("refresh token not found")
	// ErrAlreadySpent: this generation of the session's refresh tokens was spent before.
	ErrAlreadySpent = errors.New("refresh token generation already spent")
)

// SessionDeps are what a SessionService works with. Keys and Tokens are needed by Refresh only.
type SessionDeps struct {
	Users    UserStore
	Sessions SessionStore
	Keys     *ActiveKeyCache
	Tokens   *Issuer
	Events   EventSink
	Clock    clock.Clock
	IDs      ids.Generator
	// Grace is the reuse grace window (DefaultRefreshGrace when zero); RefreshTTL the lifetime
	// of a refresh token (DefaultRefreshTTL when zero).
	Grace      time.Duration
	RefreshTTL time.Duration
}

// SessionService rotates refresh tokens and lists and ends sessions.
//
// Rotation: each refresh token has a generation in its session (the family). Refreshing with a
// token of generation g inserts the spend (session, g) into a unique key; the one caller that
// wins gets a pair of generation g+1. A caller that loses, or presents any generation-g token
// later, finds the spend: within Grace of it, it is taken for a concurrent retry and gets
// another pair of generation g+1 (same family; the first use of any g+1 token spends them all,
// so only one generation is ever live); after Grace it is reuse, and the whole session ends,
// with every access and refresh token of it.
type SessionService struct {
	SessionDeps
}

// NewSessionService returns a SessionService working with d.
func NewSessionService(d SessionDeps) (*SessionService, error) {
	if d.Users == nil || d.Sessions == nil || d.Events == nil || d.Clock == nil || d.IDs == nil {
		return nil, errors.New("new session service: Users, Sessions, Events, Clock and IDs are required")
	}
	return &SessionService{SessionDeps: d}, nil
}

// RefreshInput is a refresh request and where it came from.
type RefreshInput struct {
	RefreshToken string
	IP           string
	UserAgent    string
}

// Refresh spends the refresh token and returns a new pair of the same session. It fails with
// ErrInvalidRefreshToken for every kind of bad token; reuse of a spent token outside the grace
// window also ends the session and records EventTokenReuse.
func (s *SessionService) Refresh(ctx context.Context, in RefreshInput) (Tokens, error) {
	if s.Keys == nil || s.Tokens == nil {
		return Tokens{}, errors.New("refresh: Keys and Tokens are required")
	}
	if in.RefreshToken == "" || len(in.RefreshToken) > maxRefreshTokenLen {
		return Tokens{}, ErrInvalidRefreshToken
	}
	rt, err := s.Sessions.RefreshTokenByHash(ctx, HashRefreshToken(in.RefreshToken))
	if errors.Is(err, ErrRefreshTokenNotFound) {
		return Tokens{}, ErrInvalidRefreshToken
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	now := s.Clock.Now()
	if !now.Before(rt.ExpiresAt) {
		return Tokens{}, withDetail(ErrInvalidRefreshToken, "the refresh token has expired")
	}
	ses, err := s.Sessions.SessionByID(ctx, rt.TenantID, rt.SessionID)
	if errors.Is(err, ErrSessionNotFound) {
		return Tokens{}, ErrInvalidRefreshToken
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	if ses.RevokedAt != nil || ses.UserID != rt.UserID {
		return Tokens{}, withDetail(ErrInvalidRefreshToken, "the session has ended")
	}
	u, err := s.Users.UserByID(ctx, rt.TenantID, rt.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return Tokens{}, ErrInvalidRefreshToken
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}

	ev := Event{TenantID: u.TenantID, UserID: u.ID, SessionID: ses.ID, IP: in.IP, UserAgent: in.UserAgent}
	err = s.Sessions.SpendGeneration(ctx, Spend{TenantID: rt.TenantID, SessionID: rt.SessionID, Generation: rt.Generation, At: now})
	reason := ""
	switch {
	case err == nil:
	case errors.Is(err, ErrAlreadySpent):
		sp, err := s.Sessions.SpentGeneration(ctx, rt.TenantID, rt.SessionID, rt.Generation)
		if err != nil {
			return Tokens{}, fmt.Errorf("refresh: %w", err)
		}
		if now.Sub(sp.At) > cmp.Or(s.Grace, DefaultRefreshGrace) {
			if _, err := s.Sessions.EndSession(ctx, ses.TenantID, ses.UserID, ses.ID, now); err != nil {
				return Tokens{}, fmt.Errorf("refresh: end reused family: %w", err)
			}
			ev.Kind, ev.Reason, ev.At = EventTokenReuse, "spent_refresh_token", now
			s.Events.Record(ctx, ev)
			return Tokens{}, withDetail(ErrInvalidRefreshToken, "the refresh token was already used; its session has ended")
		}
		reason = "grace_retry"
	default:
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}

	key, err := s.Keys.Get(ctx)
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	refresh, hash, err := NewRefreshToken()
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	next := RefreshToken{Hash: hash, TenantID: rt.TenantID, UserID: rt.UserID, SessionID: rt.SessionID,
		Generation: rt.Generation + 1, IssuedAt: now, ExpiresAt: now.Add(cmp.Or(s.RefreshTTL, DefaultRefreshTTL))}
	if err := s.Sessions.AddRefreshToken(ctx, next); err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	if err := s.Sessions.TouchSession(ctx, ses.TenantID, ses.ID, now); err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	access, ttl, err := s.Tokens.Issue(key, u.TenantID, u.ID, ses.ID, RoleOf(u))
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	ev.Kind, ev.Reason, ev.At = EventTokenRefreshed, reason, now
	s.Events.Record(ctx, ev)
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: ttl, SessionID: ses.ID}, nil
}

// Caller is who asks to end or list sessions: the identity the authorizer established, and
// where the request came from.
type Caller struct {
	TenantID  string
	UserID    string
	SessionID string
	IP        string
	UserAgent string
}

func (c Caller) event(kind string, sessionID string, at time.Time) Event {
	return Event{Kind: kind, TenantID: c.TenantID, UserID: c.UserID, SessionID: sessionID, IP: c.IP, UserAgent: c.UserAgent, At: at}
}

// Logout ends the caller's current session. Ending a session that has already ended is not an
// error.
func (s *SessionService) Logout(ctx context.Context, c Caller) error {
	now := s.Clock.Now()
	if _, err := s.Sessions.EndSession(ctx, c.TenantID, c.UserID, c.SessionID, now); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	s.Events.Record(ctx, c.event(EventLogout, c.SessionID, now))
	return nil
}

// LogoutAll ends every session of the caller, the current one included, and returns how many
// it ended.
func (s *SessionService) LogoutAll(ctx context.Context, c Caller) (int, error) {
	now := s.Clock.Now()
	n, err := s.Sessions.EndUserSessions(ctx, c.TenantID, c.UserID, now)
	if err != nil {
		return 0, fmt.Errorf("logout all: %w", err)
	}
	s.Events.Record(ctx, c.event(EventLogoutAll, c.SessionID, now))
	return n, nil
}

// List returns the caller's live sessions, at most MaxListedSessions, the newest first.
func (s *SessionService) List(ctx context.Context, c Caller) ([]Session, error) {
	l, err := s.Sessions.ListSessions(ctx, c.TenantID, c.UserID, MaxListedSessions)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return l, nil
}

// End ends one of the caller's sessions; ErrSessionNotFound when the caller has no live
// session with this id (another user's session included).
func (s *SessionService) End(ctx context.Context, c Caller, sessionID string) error {
	if !ids.Valid(ids.Session, sessionID) {
		return ErrSessionNotFound
	}
	now := s.Clock.Now()
	ok, err := s.Sessions.EndSession(ctx, c.TenantID, c.UserID, sessionID, now)
	if err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	if !ok {
		return ErrSessionNotFound
	}
	s.Events.Record(ctx, c.event(EventSessionEnded, sessionID, now))
	return nil
}
