package gdpr

import (
	"context"
	"fmt"
	"time"

	"caas.dev/shared/edge"
	"caas.dev/shared/identity"
)

// Profile fields a rectification may change.
const (
	FieldDisplayName = "display_name"
	FieldEmail       = "email"
)

// ProfileUpdate holds the new values of the fields to change; nil leaves a field as it is.
type ProfileUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	Email       *string `json:"email,omitempty"`
}

// ProfileStore changes users' profile fields. The Mongo user store implements it.
type ProfileStore interface {
	// RectifyUser sets the fields of u that are not nil and returns the user as stored
	// afterwards. It fails with identity.ErrUserNotFound for a user not in the tenant and
	// identity.ErrEmailTaken when another user of the tenant has the new email.
	RectifyUser(ctx context.Context, tenantID, userID string, u ProfileUpdate) (identity.User, error)
}

// FieldChange is one changed field with its value before and after.
type FieldChange struct {
	Field string
	Old   string
	New   string
}

// Change is one rectification of a user's profile.
type Change struct {
	TenantID string
	UserID   string
	// Actor is who made the change: the user's id, or "api_key".
	Actor     string
	RequestID string
	At        time.Time
	Fields    []FieldChange
}

// ChangeRecorder receives each rectification with its old and new values: AuditRecorder puts
// them in the audit trail; values are personal data and must go nowhere else.
type ChangeRecorder interface {
	RecordChange(ctx context.Context, c Change) error
}

// Rectify corrects the profile fields of the user userID: the user themselves or a tenant
// admin may. Values are validated as registration does (the email normalized, the display
// name trimmed). It returns the updated user and records the change, with the old and new
// values, through s.Changes. A request that changes nothing is recorded as nothing.
func (s *Service) Rectify(ctx context.Context, caller edge.Identity, userID string, in ProfileUpdate) (identity.User, error) {
	if in.DisplayName == nil && in.Email == nil {
		return identity.User{}, edge.Missing("display_name or email")
	}
	var upd ProfileUpdate
	if in.DisplayName != nil {
		name, err := identity.NormalizeDisplayName(*in.DisplayName)
		if err != nil {
			return identity.User{}, err
		}
		upd.DisplayName = &name
	}
	if in.Email != nil {
		email, err := identity.NormalizeEmail(*in.Email)
		if err != nil {
			return identity.User{}, err
		}
		upd.Email = &email
	}
	if _, err := s.authorize(ctx, caller, userID); err != nil {
		return identity.User{}, err
	}

	before, err := s.Users.UserByID(ctx, caller.TenantID, userID)
	if err != nil {
		return identity.User{}, fmt.Errorf("rectify: %w", err)
	}
	var fields []FieldChange
	if upd.DisplayName != nil && *upd.DisplayName != before.DisplayName {
		fields = append(fields, FieldChange{Field: FieldDisplayName, Old: before.DisplayName, New: *upd.DisplayName})
	} else {
		upd.DisplayName = nil
	}
	if upd.Email != nil && *upd.Email != before.Email {
		fields = append(fields, FieldChange{Field: FieldEmail, Old: before.Email, New: *upd.Email})
	} else {
		upd.Email = nil
	}
	if len(fields) == 0 {
		return before, nil
	}
	after, err := s.Profiles.RectifyUser(ctx, caller.TenantID, userID, upd)
	if err != nil {
		return identity.User{}, fmt.Errorf("rectify: %w", err)
	}
	ch := Change{TenantID: caller.TenantID, UserID: userID, Actor: actorOf(caller),
		RequestID: requestIDFrom(ctx), At: s.Clock.Now(), Fields: fields}
	if err := s.Changes.RecordChange(ctx, ch); err != nil {
		return identity.User{}, fmt.Errorf("rectify: record change: %w", err)
	}
	return after, nil
}

type requestIDKey struct{}

// withRequestID returns a context carrying the request id for the change record.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
