package edge

import (
	"context"
	"fmt"
)

// Identity is the verified caller of a request, as the authorizer established it.
type Identity struct {
	TenantID  string
	UserID    string
	SessionID string
	Role      string
}

// Authorizer context keys. The authorizer returns them and API Gateway hands them to the
// function under requestContext.authorizer.lambda.
const (
	ContextTenantID  = "tenant_id"
	ContextUserID    = "user_id"
	ContextSessionID = "session_id"
	ContextRole      = "role"
)

// Identity returns the caller established by the Lambda authorizer, or ok=false when the route
// was not authorized (no authorizer ran or it gave no tenant and user).
func (r *Request) Identity() (id Identity, ok bool) {
	a := r.RequestContext.Authorizer
	if a == nil || a.Lambda == nil {
		return Identity{}, false
	}
	str := func(k string) string {
		v, present := a.Lambda[k]
		if !present || v == nil {
			return ""
		}
		if s, isString := v.(string); isString {
			return s
		}
		return fmt.Sprint(v)
	}
	id = Identity{
		TenantID:  str(ContextTenantID),
		UserID:    str(ContextUserID),
		SessionID: str(ContextSessionID),
		Role:      str(ContextRole),
	}
	if id.TenantID == "" || id.UserID == "" {
		return Identity{}, false
	}
	return id, true
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity stored in ctx by WithIdentity.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
