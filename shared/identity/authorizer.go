package identity

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
)

// Authorizer is the HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses). It
// verifies the Bearer access token in the Authorization header and checks that its session
// (sid) has not ended and its user still exists; it never logs the token. Sessions is required:
// without it Handle fails rather than skip the check.
type Authorizer struct {
	Verifier *Verifier
	Users    UserStore
	Sessions SessionReader
	Clock    clock.Clock
	Log      *slog.Logger

	// UserTTL is how long a live session of an existing user is remembered; DeniedTTL how long
	// an ended session or a missing user is. Zero means the defaults. An ended session's (or a
	// deleted user's) access tokens are refused at most UserTTL after the end.
	UserTTL   time.Duration
	DeniedTTL time.Duration

	mu   sync.Mutex
	seen map[string]userSeen
}

type userSeen struct {
	exists  bool
	expires time.Time
}

// Defaults of the session and user cache. An ended session or a deleted user keeps access for
// at most DefaultUserTTL; a refusal is remembered longer, since an ended session never comes
// back.
const (
	DefaultUserTTL    = 5 * time.Second
	DefaultDeniedTTL  = 30 * time.Second
	maxCachedUsers    = 10000
	authorizationName = "authorization"
)

// Handle answers one authorization request. A refused token gives {"isAuthorized":false}; an
// error is returned only when a backend fails, which API Gateway turns into a 500 rather than
// wrongly refusing a valid caller.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	deny := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	log := a.Log.With("request_id", req.RequestContext.RequestID, "route", req.RouteKey)

	token, ok := bearerToken(authorizationHeader(req))
	if !ok {
		log.DebugContext(ctx, "refused", "reason", "no bearer token")
		return deny, nil
	}
	claims, err := a.Verifier.Verify(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		log.DebugContext(ctx, "refused", "reason", "invalid token")
		return deny, nil
	}
	if err != nil {
		return deny, fmt.Errorf("authorize: %w", err)
	}
	log = log.With("tenant_id", claims.TenantID)

	exists, err := a.userExists(ctx, claims.TenantID, claims.Subject, claims.SessionID)
	if err != nil {
		return deny, fmt.Errorf("authorize: %w", err)
	}
	if !exists {
		log.InfoContext(ctx, "refused", "reason", "session ended or user no longer exists",
			"user_id", claims.Subject, "session_id", claims.SessionID)
		return deny, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			edge.ContextTenantID:  claims.TenantID,
			edge.ContextUserID:    claims.Subject,
			edge.ContextSessionID: claims.SessionID,
			edge.ContextRole:      claims.Role,
		},
	}, nil
}

// authorizationHeader reads the Authorization header, whatever its case in the event.
func authorizationHeader(req events.APIGatewayV2CustomAuthorizerV2Request) string {
	if v, ok := req.Headers[authorizationName]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, authorizationName) {
			return v
		}
	}
	return ""
}

// bearerToken returns the token of "Bearer <token>" (scheme case-insensitive, RFC 7235).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != "" && !strings.ContainsAny(token, " \t")
}

// userExists reports whether the session is live, belongs to the user and the user is still
// registered, remembering the answer briefly so a burst of requests costs one lookup.
func (a *Authorizer) userExists(ctx context.Context, tenantID, userID, sessionID string) (bool, error) {
	if a.Sessions == nil {
		return false, errors.New("authorizer has no session store")
	}
	key := tenantID + "/" + userID + "/" + sessionID
	now := a.Clock.Now()
	a.mu.Lock()
	s, ok := a.seen[key]
	a.mu.Unlock()
	if ok && now.Before(s.expires) {
		return s.exists, nil
	}

	exists := true
	ses, err := a.Sessions.SessionByID(ctx, tenantID, sessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		exists = false
	case err != nil:
		return false, err
	case ses.RevokedAt != nil || ses.UserID != userID:
		exists = false
	}
	if exists {
		_, err = a.Users.UserByID(ctx, tenantID, userID)
		exists = err == nil
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return false, err
		}
	}
	ttl := cmp.Or(a.UserTTL, DefaultUserTTL)
	if !exists {
		ttl = cmp.Or(a.DeniedTTL, DefaultDeniedTTL)
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil || len(a.seen) >= maxCachedUsers {
		// Dropping everything is crude but bounded and rare: an instance seldom sees 10k users.
		a.seen = make(map[string]userSeen)
	}
	a.seen[key] = userSeen{exists: exists, expires: now.Add(ttl)}
	return exists, nil
}
