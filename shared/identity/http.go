package identity

import (
	"context"
	"net/http"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// TenantAuthenticator resolves a tenant's API key (X-Api-Key) to its tenant id; *tenant.Service
// is the production one. It fails with an Unauthorized *fault.Error for a bad key.
type TenantAuthenticator interface {
	Authenticate(ctx context.Context, apiKey string) (tenantID string, err error)
}

type registerRequest struct {
	Email       *string `json:"email"`
	Password    *string `json:"password"`
	DisplayName *string `json:"display_name"`
}

// RegisterHandler serves POST /v1/auth/register: a tenant's server (X-Api-Key) registers a
// user and gets 201 {"user_id"}; an email already registered in the tenant gets 409.
func RegisterHandler(svc *Service, tenants TenantAuthenticator) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		tenantID, err := tenants.Authenticate(ctx, req.Header("X-Api-Key"))
		if err != nil {
			return nil, err
		}

		var body registerRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		switch {
		case body.Email == nil:
			return nil, edge.Missing("email")
		case body.Password == nil:
			return nil, edge.Missing("password")
		case body.DisplayName == nil:
			return nil, edge.Missing("display_name")
		}

		u, err := svc.Register(ctx, RegisterInput{TenantID: tenantID, Email: *body.Email,
			Password: *body.Password, DisplayName: *body.DisplayName})
		if err != nil {
			return nil, err
		}
		edge.Logger(ctx).InfoContext(ctx, "user registered", "tenant_id", tenantID, "user_id", u.ID)
		return edge.JSON(http.StatusCreated, map[string]string{"user_id": u.ID})
	}
}

type loginRequest struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

type loginResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// LoginHandler serves POST /v1/auth/login: the tenant named by X-Tenant-ID, email and password
// in the body; 200 with the tokens, or {"mfa_required":true,"mfa_token"} for a user with MFA
// on, or one 401 (invalid_credentials) for every kind of wrong, or 429 with Retry-After.
func LoginHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		tenantID := req.Header("X-Tenant-ID")
		if tenantID == "" {
			return nil, fault.WithDetail(edge.ErrMissingField, "X-Tenant-ID: header is required")
		}
		var body loginRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		switch {
		case body.Email == nil:
			return nil, edge.Missing("email")
		case body.Password == nil:
			return nil, edge.Missing("password")
		}

		t, err := svc.Login(ctx, LoginInput{TenantID: tenantID, Email: *body.Email, Password: *body.Password,
			IP: req.SourceIP(), UserAgent: req.UserAgent()})
		if err != nil {
			return nil, err
		}

		if t.MFARequired {
			return noStore(edge.JSON(http.StatusOK, mfaRequiredResponse{MFARequired: true, MFAToken: t.MFAToken}))
		}
		return tokensResponse(t.Tokens)
	}
}

type mfaRequiredResponse struct {
	MFARequired bool   `json:"mfa_required"`
	MFAToken    string `json:"mfa_token"`
}

// tokensResponse is the 200 of a completed login: Login without MFA, MfaVerify.
func tokensResponse(t Tokens) (*edge.Response, error) {
	return noStore(edge.JSON(http.StatusOK, loginResponse{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
		TokenType: "Bearer", ExpiresIn: int(t.ExpiresIn / time.Second)}))
}

// noStore marks a response holding secrets as not cacheable.
func noStore(resp *edge.Response, err error) (*edge.Response, error) {
	if err != nil {
		return nil, err
	}
	resp.Headers["Cache-Control"] = "no-store"
	return resp, nil
}

// profile is a user as the user or their tenant's server sees it.
type profile struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// publicProfile is a user as another user of the tenant sees them.
type publicProfile struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
}

func profileOf(u User) profile {
	return profile{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName,
		CreatedAt: u.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
}

// MeHandler serves GET /v1/users/me: the caller's own profile.
func MeHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		id, err := edge.RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		u, err := svc.User(ctx, id.TenantID, id.UserID)
		if err != nil {
			return nil, err
		}
		return edge.JSON(http.StatusOK, profileOf(u))
	}
}

// GetUserHandler serves GET /v1/users/{id}: id and display name of a user of the caller's
// tenant; any other id, another tenant's included, is 404.
func GetUserHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		id, err := edge.RequireIdentity(ctx)
		if err != nil {
			return nil, err
		}
		u, err := svc.User(ctx, id.TenantID, req.PathParam("id"))
		if err != nil {
			return nil, err
		}
		return edge.JSON(http.StatusOK, publicProfile{ID: u.ID, DisplayName: u.DisplayName})
	}
}

// FindUserHandler serves GET /v1/users?email=: a tenant's server (X-Api-Key) finds one of its
// users by email, so it can put their id in conversations.
func FindUserHandler(svc *Service, tenants TenantAuthenticator) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		tenantID, err := tenants.Authenticate(ctx, req.Header("X-Api-Key"))
		if err != nil {
			return nil, err
		}
		email := req.Query("email")
		if email == "" {
			return nil, fault.WithDetail(edge.ErrInvalidQuery, "email: is required")
		}

		u, err := svc.FindByEmail(ctx, tenantID, email)
		if err != nil {
			return nil, err
		}
		return edge.JSON(http.StatusOK, profileOf(u))
	}
}
