package identity

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"caas.dev/shared/clock"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// Authorizer is the HTTP API's Lambda REQUEST authorizer (payload 2.0, simple responses). It
// verifies the Bearer access token in the Authorization header and checks that its session
// (sid) has not ended and its user still exists; the role it hands on is the user's current
// one, read from the user store, not the token's claim, so a role change takes effect within
// UserTTL. A request without a Bearer token but with an X-Api-Key header is a tenant's server:
// the key is checked by Tenants and the caller is the tenant's admin. It never logs a token or
// a key. Sessions is required: without it Handle fails rather than skip the check.
type Authorizer struct {
	Verifier *Verifier
	Users    UserStore
	Sessions SessionReader
	// Tenants authenticates API keys; nil refuses every API key.
	Tenants TenantAuthenticator
	Clock   clock.Clock
	Log     *slog.Logger

	// UserTTL is how long a live session of an existing user (and the user's role) is
	// remembered; DeniedTTL how long an ended session or a missing user is. Zero means the
	// defaults. An ended session's (or a deleted user's) access tokens are refused at most
	// UserTTL after the end. API keys are remembered for UserTTL, refused ones for UserTTL too.
	UserTTL   time.Duration
	DeniedTTL time.Duration

	mu       sync.Mutex
	seen     map[string]userSeen
	keysSeen map[[sha256.Size]byte]keySeen
}

type userSeen struct {
	exists  bool
	role    string
	expires time.Time
}

type keySeen struct {
	tenantID string // empty for a refused key
	expires  time.Time
}

// Defaults of the session and user cache. An ended session or a deleted user keeps access for
// at most DefaultUserTTL; a refusal is remembered longer, since an ended session never comes
// back.
const (
	DefaultUserTTL    = 5 * time.Second
	DefaultDeniedTTL  = 30 * time.Second
	maxCachedUsers    = 10000
	maxCachedKeys     = 1000
	authorizationName = "authorization"
	apiKeyName        = "x-api-key"
)

// ErrUnauthorized is what Handle returns when the request carries no credentials at all, or an
// API key that is not valid. Its message is exactly "Unauthorized", the message with which a
// Lambda authorizer asks API Gateway for 401 Unauthorized rather than 500 (our runtime does
// so); a refused access token is a 403.
//
// TODO: AWS documents the "Unauthorized" message for REST APIs only; it is unconfirmed on a
// deployed HTTP API (no test here reaches AWS). If HTTP APIs do not honour it, requests
// without credentials or with a bad API key get 500 there instead of 401.
var ErrUnauthorized = errors.New("Unauthorized")

// verdict is how a request is refused, if it is.
type verdict int

const (
	allowed         verdict = iota
	forbidden               // credentials that are not valid: API Gateway's 403
	unauthenticated         // no credentials, or a bad API key: API Gateway's 401
)

// Handle answers one authorization request. A refused token gives {"isAuthorized":false}; a
// request without credentials, or with a bad API key, fails with ErrUnauthorized (401). Any
// other error is returned only when a backend fails, which API Gateway turns into a 500
// rather than wrongly refusing a valid caller.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	resp, v, err := a.decide(ctx, req)
	if err == nil && v == unauthenticated {
		return resp, ErrUnauthorized
	}
	return resp, err
}

// Authorize is Handle for callers that want every refusal as {"isAuthorized":false}, such as
// the WebSocket API's authorizer; it fails only when a backend fails.
func (a *Authorizer) Authorize(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	resp, _, err := a.decide(ctx, req)
	return resp, err
}

func (a *Authorizer) decide(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, verdict, error) {
	deny := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	log := a.Log.With("request_id", req.RequestContext.RequestID, "route", req.RouteKey)

	authz := header(req, authorizationName)
	token, ok := bearerToken(authz)
	if !ok {
		if key := strings.TrimSpace(header(req, apiKeyName)); key != "" {
			return a.decideAPIKey(ctx, log, key)
		}
		if strings.TrimSpace(authz) == "" {
			log.DebugContext(ctx, "refused", "reason", "no credentials")
			return deny, unauthenticated, nil
		}
		log.DebugContext(ctx, "refused", "reason", "no bearer token")
		return deny, forbidden, nil
	}
	claims, err := a.Verifier.Verify(ctx, token)
	if errors.Is(err, ErrInvalidToken) {
		log.DebugContext(ctx, "refused", "reason", "invalid token")
		return deny, forbidden, nil
	}
	if err != nil {
		return deny, forbidden, fmt.Errorf("authorize: %w", err)
	}
	log = log.With("tenant_id", claims.TenantID)

	exists, role, err := a.userExists(ctx, claims.TenantID, claims.Subject, claims.SessionID)
	if err != nil {
		return deny, forbidden, fmt.Errorf("authorize: %w", err)
	}
	if !exists {
		log.InfoContext(ctx, "refused", "reason", "session ended or user no longer exists",
			"user_id", claims.Subject, "session_id", claims.SessionID)
		return deny, forbidden, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			edge.ContextTenantID:  claims.TenantID,
			edge.ContextUserID:    claims.Subject,
			edge.ContextSessionID: claims.SessionID,
			edge.ContextRole:      role,
			edge.ContextActor:     edge.ActorUser,
		},
	}, allowed, nil
}

// decideAPIKey authorizes a tenant's API key as the tenant's admin.
func (a *Authorizer) decideAPIKey(ctx context.Context, log *slog.Logger, key string) (events.APIGatewayV2CustomAuthorizerSimpleResponse, verdict, error) {
	deny := events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	tenantID, err := a.apiKeyTenant(ctx, key)
	if err != nil {
		return deny, unauthenticated, fmt.Errorf("authorize: %w", err)
	}
	if tenantID == "" {
		log.InfoContext(ctx, "refused", "reason", "invalid API key")
		return deny, unauthenticated, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{
		IsAuthorized: true,
		Context: map[string]any{
			edge.ContextTenantID:  tenantID,
			edge.ContextUserID:    "",
			edge.ContextSessionID: "",
			edge.ContextRole:      RoleAdmin,
			edge.ContextActor:     edge.ActorAPIKey,
		},
	}, allowed, nil
}

// apiKeyTenant returns the tenant of a valid API key, or "" for a refused one, remembering the
// answer for UserTTL under the key's SHA-256 (the key itself is never kept).
func (a *Authorizer) apiKeyTenant(ctx context.Context, key string) (string, error) {
	if a.Tenants == nil {
		return "", nil
	}
	sum := sha256.Sum256([]byte(key))
	now := a.Clock.Now()
	a.mu.Lock()
	s, ok := a.keysSeen[sum]
	a.mu.Unlock()
	if ok && now.Before(s.expires) {
		return s.tenantID, nil
	}

	tenantID, err := a.Tenants.Authenticate(ctx, key)
	if err != nil {
		if fe := fault.As(err); fe == nil || fe.Kind != fault.Unauthorized {
			return "", err
		}
		tenantID = ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keysSeen == nil || len(a.keysSeen) >= maxCachedKeys {
		a.keysSeen = make(map[[sha256.Size]byte]keySeen)
	}
	a.keysSeen[sum] = keySeen{tenantID: tenantID, expires: now.Add(cmp.Or(a.UserTTL, DefaultUserTTL))}
	return tenantID, nil
}

// header reads the header named (in lower case) name, whatever its case in the event.
func header(req events.APIGatewayV2CustomAuthorizerV2Request, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
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
// registered, and the user's current role, remembering the answer briefly so a burst of
// requests costs one lookup.
func (a *Authorizer) userExists(ctx context.Context, tenantID, userID, sessionID string) (bool, string, error) {
	if a.Sessions == nil {
		return false, "", errors.New("authorizer has no session store")
	}
	key := tenantID + "/" + userID + "/" + sessionID
	now := a.Clock.Now()
	a.mu.Lock()
	s, ok := a.seen[key]
	a.mu.Unlock()
	if ok && now.Before(s.expires) {
		return s.exists, s.role, nil
	}

	exists, role := true, ""
	ses, err := a.Sessions.SessionByID(ctx, tenantID, sessionID)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		exists = false
	case err != nil:
		return false, "", err
	case ses.RevokedAt != nil || ses.UserID != userID:
		exists = false
	}
	if exists {
		u, err := a.Users.UserByID(ctx, tenantID, userID)
		exists = err == nil
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return false, "", err
		}
		role = RoleOf(u)
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
	a.seen[key] = userSeen{exists: exists, role: role, expires: now.Add(ttl)}
	return exists, role, nil
}
