package edge

import (
	"context"
	"fmt"
)

// Identity is the verified caller of a request, as the authorizer established it: a user of
// a tenant (Actor ActorUser, with UserID and SessionID) or a tenant's API key (Actor
// ActorAPIKey, no user or session).
type Identity struct {
	TenantID  string
	UserID    string
	SessionID string
	Role      string
	Actor     string
}

// Kinds of caller, the Actor of an Identity.
const (
	// ActorUser is a user presenting an access token.
	ActorUser = "user"
	// ActorAPIKey is a tenant's server presenting the tenant's API key.
	ActorAPIKey = "api_key"
)

// Authorizer context keys. The authorizer returns them and API Gateway hands them to the
// function under requestContext.authorizer.lambda.
const (
	ContextTenantID  = "tenant_id"
	ContextUserID    = "user_id"
	ContextSessionID = "session_id"
	ContextRole      = "role"
	ContextActor     = "actor"
)

// Identity returns the user established by the Lambda authorizer, or ok=false when the route
// was not authorized (no authorizer ran or it gave no tenant and user) or the caller is not a
// user (a tenant's API key): handlers acting for a user refuse every other caller.
func (r *Request) Identity() (id Identity, ok bool) {
	id, ok = r.Caller()
	if !ok || id.UserID == "" || id.Actor == ActorAPIKey {
		return Identity{}, false
	}
	return id, true
}

// Caller returns any caller the Lambda authorizer verified, a user or a tenant's API key, or
// ok=false when no authorizer ran or it gave no tenant, or an API key without a role. A context without an actor
// (an authorizer older than actors) names a user when it has a user id.
func (r *Request) Caller() (id Identity, ok bool) {
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
		Actor:     str(ContextActor),
	}
	if id.Actor == "" && id.UserID != "" {
		id.Actor = ActorUser
	}
	switch {
	case id.TenantID == "":
		return Identity{}, false
	case id.Actor == ActorUser && id.UserID != "":
		return id, true
	case id.Actor == ActorAPIKey && id.UserID == "" && id.Role != "":
		return id, true
	}
	return Identity{}, false
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

type callerKey struct{}

// WithCaller returns a context carrying the verified caller c (a user or an API key).
func WithCaller(ctx context.Context, c Identity) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx by WithCaller.
func CallerFrom(ctx context.Context) (Identity, bool) {
	c, ok := ctx.Value(callerKey{}).(Identity)
	return c, ok
}
