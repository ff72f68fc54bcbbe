package identity

import (
	"context"
	"log/slog"
	"time"
)

// Kinds of authentication event. Each is recorded through an EventSink as it happens.
const (
	EventLoginSucceeded  = "auth.login.succeeded"
	EventLoginFailed     = "auth.login.failed"
	EventLockout         = "auth.lockout"
	EventMFAEnabled      = "auth.mfa.enabled"
	EventMFADisabled     = "auth.mfa.disabled"
	EventMFAFailed       = "auth.mfa.failed"
	EventRecoveryUsed    = "auth.mfa.recovery_code_used"
	EventTokenRefreshed  = "auth.token.refreshed"
	EventTokenReuse      = "auth.token.reuse_detected"
	EventLogout          = "auth.logout"
	EventLogoutAll       = "auth.logout_all"
	EventSessionEnded    = "auth.session.ended"
	EventSigningKeyAdded = "auth.signing_key.added"
	EventRoleChanged     = "auth.role_changed"
)

// Event is one authentication event. It names the user by id and never carries a password,
// token, code or secret.
type Event struct {
	Kind      string
	TenantID  string
	UserID    string // empty when the account is unknown (a failed login for an unknown email)
	SessionID string
	IP        string
	UserAgent string
	Reason    string // why a failure failed, as a stable word: "bad_password", "replayed_code", ...
	Actor     string // who made a change to UserID: an admin user's id or "api_key"
	OldRole   string // a role change's role before
	NewRole   string // a role change's role after
	At        time.Time
}

// EventSink receives authentication events. The audit trail implements it; until then
// LogSink writes them to the function's log. Record must not fail the operation that
// reports the event: implementations keep what they cannot deliver and deliver it later.
type EventSink interface {
	Record(ctx context.Context, e Event)
}

// LogSink writes each event as one structured log line.
type LogSink struct {
	Log *slog.Logger
}

// Record logs e at info level.
func (s LogSink) Record(ctx context.Context, e Event) {
	if e.Kind == EventRoleChanged {
		s.Log.InfoContext(ctx, "auth event", "kind", e.Kind, "tenant_id", e.TenantID, "user_id", e.UserID,
			"actor", e.Actor, "old_role", e.OldRole, "new_role", e.NewRole, "at", e.At)
		return
	}
	s.Log.InfoContext(ctx, "auth event", "kind", e.Kind, "tenant_id", e.TenantID, "user_id", e.UserID,
		"session_id", e.SessionID, "ip", e.IP, "reason", e.Reason, "at", e.At)
}
