package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

// Roles of a tenant's users. A user document without a role is an ordinary user; a tenant's
// API key always acts as RoleAdmin.
const (
	// RoleAdmin administers the tenant: it may change users' roles and manage the tenant's keys.
	RoleAdmin = "admin"
	// RoleUser is the role of an ordinary end user, the default.
	RoleUser = "user"
)

// Failures of role administration. Their codes are part of the API contract.
var (
	// ErrInvalidRole: the role is not one of RoleAdmin, RoleUser.
	ErrInvalidRole = fault.New(fault.Invalid, "invalid_role", `the role must be "admin" or "user"`)
	// ErrAdminRequired: only a tenant administrator (the tenant's API key or an admin user)
	// may do this.
	ErrAdminRequired = fault.New(fault.Forbidden, "admin_required", "only a tenant administrator may do this")
)

// ValidRole reports whether role is a role a user may have.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleUser
}

// RoleOf returns u's role, RoleUser when none is stored.
func RoleOf(u User) string {
	if u.Role == "" {
		return RoleUser
	}
	return u.Role
}

// RoleStore changes a user's role. The Mongo user store implements it.
type RoleStore interface {
	// SetUserRole sets the role of the tenant's user, or fails with ErrUserNotFound.
	SetUserRole(ctx context.Context, tenantID, userID, role string) error
}

// RoleChange is the outcome of SetRole.
type RoleChange struct {
	UserID  string
	OldRole string
	NewRole string
}

// SetRole gives the caller's tenant's user the role. The caller must be a tenant admin: the
// tenant's API key, or a user whose role is admin both as the authorizer handed it on and as
// the store has it now (never as the token claims it); otherwise it fails with
// ErrAdminRequired. It fails with ErrInvalidRole, or
// ErrUserNotFound for a user not in the caller's tenant. An admin may demote themselves; the
// API key stays admin whatever the users' roles. The change is recorded as EventRoleChanged.
func (s *Service) SetRole(ctx context.Context, caller edge.Identity, userID, role string) (RoleChange, error) {
	if err := s.requireAdmin(ctx, caller); err != nil {
		return RoleChange{}, err
	}
	if !ValidRole(role) {
		return RoleChange{}, ErrInvalidRole
	}
	roles, ok := s.Users.(RoleStore)
	if !ok {
		return RoleChange{}, errors.New("set role: the user store cannot change roles")
	}
	if !ids.Valid(ids.User, userID) {
		return RoleChange{}, ErrUserNotFound
	}
	u, err := s.Users.UserByID(ctx, caller.TenantID, userID)
	if err != nil {
		return RoleChange{}, fmt.Errorf("set role: %w", err)
	}
	old := RoleOf(u)
	if err := roles.SetUserRole(ctx, caller.TenantID, userID, role); err != nil {
		return RoleChange{}, fmt.Errorf("set role: %w", err)
	}
	s.recordAuthEvent(ctx, Event{Kind: EventRoleChanged, TenantID: caller.TenantID, UserID: userID,
		Actor: actorOf(caller), OldRole: old, NewRole: role})
	return RoleChange{UserID: userID, OldRole: old, NewRole: role}, nil
}

// requireAdmin checks that caller administers its tenant: the API key, or a user the
// authorizer found to be admin and whose role, read afresh, still is, so a demoted admin loses
// the right at once even while the authorizer still caches the old role.
func (s *Service) requireAdmin(ctx context.Context, caller edge.Identity) error {
	switch caller.Actor {
	case edge.ActorAPIKey:
		if caller.TenantID != "" && caller.UserID == "" && caller.Role == RoleAdmin {
			return nil
		}
		return ErrAdminRequired
	case edge.ActorUser:
		// The authorizer's role is the user's role of at most a few seconds ago; the store's
		// is now. Both must say admin.
		if caller.TenantID == "" || caller.UserID == "" || caller.Role != RoleAdmin {
			return ErrAdminRequired
		}
		u, err := s.Users.UserByID(ctx, caller.TenantID, caller.UserID)
		if errors.Is(err, ErrUserNotFound) {
			return ErrAdminRequired
		}
		if err != nil {
			return fmt.Errorf("check admin: %w", err)
		}
		if RoleOf(u) != RoleAdmin {
			return ErrAdminRequired
		}
		return nil
	}
	return ErrAdminRequired
}

// actorOf names the caller in an event: the user's id, or "api_key".
func actorOf(c edge.Identity) string {
	if c.Actor == edge.ActorAPIKey {
		return edge.ActorAPIKey
	}
	return c.UserID
}

type setRoleRequest struct {
	Role *string `json:"role"`
}

// SetUserRoleHandler serves PUT /v1/users/{id}/role with {"role": "admin"|"user"}: a tenant
// admin (the tenant's API key, or an admin user) sets the role of a user of its tenant and gets
// 200 {"user_id","role"}. Any other caller gets 403 admin_required; a user of another tenant,
// or none, 404 user_not_found; a role other than admin or user 400 invalid_role.
func SetUserRoleHandler(svc *Service) edge.HandlerFunc {
	return func(ctx context.Context, req *edge.Request) (*edge.Response, error) {
		caller, err := edge.RequireCaller(ctx)
		if err != nil {
			return nil, err
		}
		if err := svc.requireAdmin(ctx, caller); err != nil {
			return nil, err
		}
		var body setRoleRequest
		if err := req.Decode(&body); err != nil {
			return nil, err
		}
		if body.Role == nil {
			return nil, edge.Missing("role")
		}
		ch, err := svc.SetRole(ctx, caller, req.PathParam("id"), *body.Role)
		if err != nil {
			return nil, err
		}
		edge.Logger(ctx).InfoContext(ctx, "role changed", "tenant_id", caller.TenantID, "user_id", ch.UserID,
			"actor", actorOf(caller), "old_role", ch.OldRole, "new_role", ch.NewRole)
		return edge.JSON(http.StatusOK, map[string]string{"user_id": ch.UserID, "role": ch.NewRole})
	}
}
