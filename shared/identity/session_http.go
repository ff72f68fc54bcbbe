package identity

import (
	"context"
	"net/http"

	"caas.dev/shared/edge"
)

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// RefreshHandler serves POST /v1/auth/refresh (no authorizer): {"refresh_token"} gives 200 with
// a new pair, the same body as login; any bad, spent or ended token gives 401
// invalid_refresh_token.
func RefreshHandler(svc *SessionService) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		var body refreshRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		if body.RefreshToken == nil {
			return nil, edge.Missing("refresh_token")
		}
		t, err := svc.Refresh(ctx, RefreshInput{RefreshToken: *body.RefreshToken, IP: req.SourceIP(), UserAgent: req.UserAgent()})
		if err != nil {
			return nil, err
		}
		return tokensResponse(t)
	}
}

// callerOf is the caller of a route behind the authorizer.
func callerOf(ctx context.Context, req *edge.Request) (Caller, error) {
	id, err := edge.RequireIdentity(ctx)
	if err != nil {
		return Caller{}, err
	}
	return Caller{TenantID: id.TenantID, UserID: id.UserID, SessionID: id.SessionID,
		IP: req.SourceIP(), UserAgent: req.UserAgent()}, nil
}

func noContent() (*edge.Response, error) {
	return &edge.Response{StatusCode: http.StatusNoContent, Headers: map[string]string{}}, nil
}

// LogoutHandler serves POST /v1/auth/logout: ends the session of the caller's access token; 204.
func LogoutHandler(svc *SessionService) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		c, err := callerOf(ctx, req)
		if err != nil {
			return nil, err
		}
		if err := svc.Logout(ctx, c); err != nil {
			return nil, err
		}
		return noContent()
	}
}

// LogoutAllHandler serves POST /v1/auth/logout-all: ends every session of the caller; 204.
func LogoutAllHandler(svc *SessionService) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		c, err := callerOf(ctx, req)
		if err != nil {
			return nil, err
		}
		if _, err := svc.LogoutAll(ctx, c); err != nil {
			return nil, err
		}
		return noContent()
	}
}

type sessionItem struct {
	ID         string `json:"id"`
	CreatedAt  string `json:"created_at"`
	LastUsedAt string `json:"last_used_at"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent"`
	Current    bool   `json:"current"`
}

type sessionList struct {
	Items []sessionItem `json:"items"`
}

const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// ListSessionsHandler serves GET /v1/auth/sessions: the caller's live sessions, newest first,
// at most MaxListedSessions (no paging), {"items":[{"id","created_at","last_used_at","ip",
// "user_agent","current"}]}.
func ListSessionsHandler(svc *SessionService) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		c, err := callerOf(ctx, req)
		if err != nil {
			return nil, err
		}
		l, err := svc.List(ctx, c)
		if err != nil {
			return nil, err
		}
		out := sessionList{Items: make([]sessionItem, 0, len(l))}
		for _, s := range l {
			out.Items = append(out.Items, sessionItem{ID: s.ID, CreatedAt: s.CreatedAt.UTC().Format(timeFormat),
				LastUsedAt: s.LastUsedAt.UTC().Format(timeFormat), IP: s.IP, UserAgent: s.UserAgent,
				Current: s.ID == c.SessionID})
		}
		return noStore(edge.JSON(http.StatusOK, out))
	}
}

// EndSessionHandler serves DELETE /v1/auth/sessions/{id}: ends one of the caller's sessions;
// 204, or 404 session_not_found for an unknown, ended or another user's session.
func EndSessionHandler(svc *SessionService) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		c, err := callerOf(ctx, req)
		if err != nil {
			return nil, err
		}
		if err := svc.End(ctx, c, req.PathParam("id")); err != nil {
			return nil, err
		}
		return noContent()
	}
}
