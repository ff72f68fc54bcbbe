package gdpr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
)

// States of an erasure.
const (
	// ErasureInProgress: the receipt is claimed and steps are running, or a run stopped
	// halfway; the next request for the user finishes it.
	ErasureInProgress = "in_progress"
	// ErasureCompleted: every step is done.
	ErasureCompleted = "completed"
)

// Steps of an erasure, in the order they run. Each is idempotent and recorded in the receipt
// when done; a retry runs the steps not recorded yet.
const (
	StepSessions       = "sessions"
	StepRefreshTokens  = "refresh_tokens"
	StepMFA            = "mfa"
	StepProfile        = "profile"
	StepKey            = "key"
	StepExportArchives = "export_archives"
	StepExportJobs     = "export_jobs"
	StepMedia          = "media"
	StepSearch         = "search"
	StepConsents       = "consents"
	StepAuditRecord    = "audit_record"
	StepAuditPseudonym = "audit_pseudonym"
)

// ErasureSteps lists the steps in the order they run and the receipt shows them.
var ErasureSteps = []string{StepSessions, StepRefreshTokens, StepMFA, StepProfile, StepKey,
	StepExportArchives, StepExportJobs, StepMedia, StepSearch, StepConsents, StepAuditRecord, StepAuditPseudonym}

// Outcomes of erasure steps.
const (
	OutcomeEnded    = "ended"
	OutcomeDeleted  = "deleted"
	OutcomeShredded = "shredded"
	OutcomeNone     = "none stored"
	OutcomeNoBucket = "no bucket configured"
	OutcomeKept     = "kept"
	OutcomeAppended = "appended"
	OutcomeUnlinked = "unlinked"
)

// ErasureAction is the action of the audit record of an erasure.
const ErasureAction = "POST /v1/gdpr/erasures"

// erasureRecordTag starts the id of an erasure's audit record; the erasure id follows.
const erasureRecordTag = "erasure:"

// ErrErasureNotFound: no erasure with this id in the caller's tenant.
var ErrErasureNotFound = fault.New(fault.NotFound, "erasure_not_found", "no erasure with this id")

// ErasureStep is one step of an erasure: how many things it removed and what it did.
type ErasureStep struct {
	Name    string
	Count   int64
	Outcome string
	At      time.Time
}

// Erasure is the receipt of one user's erasure. There is at most one per user.
type Erasure struct {
	ID       string
	TenantID string
	// UserID is the erased user's id; nothing links it to a person once the erasure is done.
	UserID string
	// RequestedBy is the actor who asked: the user's id, or "api_key".
	RequestedBy string
	RequestedAt time.Time
	Status      string
	CompletedAt time.Time
	// Pseudonym is the final state of the user's audit pseudonym ("unlinked"); the pseudonym
	// itself is never stored here, since the receipt would link it to the user again.
	Pseudonym string
	Steps     map[string]ErasureStep
}

// ErasureStore keeps erasure receipts, one per user, scoped by tenant.
type ErasureStore interface {
	// ClaimErasure stores e as in progress unless the tenant has a receipt for e.UserID; then it
	// returns that one and created=false. A unique (tenant, user) index settles the race.
	ClaimErasure(ctx context.Context, e Erasure) (Erasure, bool, error)
	// ErasureByID returns the tenant's receipt with the id, or ErrErasureNotFound.
	ErasureByID(ctx context.Context, tenantID, id string) (Erasure, error)
	// ErasureOfUser returns the tenant's receipt for the user, or ErrErasureNotFound.
	ErasureOfUser(ctx context.Context, tenantID, userID string) (Erasure, error)
	// RecordStep records a finished step in the receipt.
	RecordStep(ctx context.Context, tenantID, id string, s ErasureStep) error
	// CompleteErasure marks the receipt completed with the pseudonym's final state.
	CompleteErasure(ctx context.Context, tenantID, id, pseudonymState string, at time.Time) error
}

// SubjectData deletes what the platform's own stores hold about a user. Every method is
// idempotent: a second call finds nothing and returns zero counts.
type SubjectData interface {
	// EndSessions ends and deletes every session and refresh token of the user.
	EndSessions(ctx context.Context, tenantID, userID string, at time.Time) (sessions, tokens int64, err error)
	// DeleteMFA deletes the user's MFA factors (TOTP seeds), recovery codes and challenges.
	DeleteMFA(ctx context.Context, tenantID, userID string) (int64, error)
	// DeleteProfile deletes the user document: email, display name, password hash, role.
	DeleteProfile(ctx context.Context, tenantID, userID string) (int64, error)
	// DeleteExportJobs deletes the user's GDPR export job documents.
	DeleteExportJobs(ctx context.Context, tenantID, userID string) (int64, error)
}

// KeyShredder destroys a user's own key; *keys.Service is the production one.
type KeyShredder interface {
	ShredUser(ctx context.Context, tenantID, userID string) error
}

// ObjectDeleter deletes objects by key prefix; *s3.Store is the production one.
type ObjectDeleter interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// AuditTrail is the part of the audit trail an erasure uses; *audit.Service is the production one.
type AuditTrail interface {
	Pseudonym(ctx context.Context, tenantID, userID string) (string, error)
	Append(ctx context.Context, tenantID string, in []audit.Input) (audit.AppendResult, error)
	ForgetUser(ctx context.Context, tenantID, userID string) (int, error)
}

// Eraser erases users (GDPR Art. 17): it ends their sessions, deletes their profile, MFA
// secrets and exports, shreds their key (so every message body, sealed audit value and
// idempotency MAC under it is unreadable in every copy: database, backups, Kafka), deletes the
// link from their audit pseudonym, records the erasure in the audit trail and keeps a receipt.
//
// Consent records are kept: they are the controller's proof that processing was lawful
// (Art. 7(1)), name the user by the random user id alone, and once the profile and the
// pseudonym link are gone nothing ties that id to a person.
//
// The last admin user of a tenant may be erased: the tenant's API key always administers the
// tenant, an admin may already demote themselves (identity.Service.SetRole), and the right to
// erasure is the data subject's and does not wait on the tenant's staffing.
type Eraser struct {
	// GDPR gives the user store, idempotency keys, clock and ids.
	GDPR  *Service
	Store ErasureStore
	Data  SubjectData
	Keys  KeyShredder
	// Objects holds export archives; nil when no bucket is configured.
	Objects ObjectDeleter
	// ExportPrefix starts the object keys of export archives (mongo.ExportObjectPrefix); a
	// user's are under ExportPrefix + tenant + "/" + user + "/".
	ExportPrefix string
	Audit        AuditTrail
}

// erasureOp names erasure requests in the scope of their idempotency keys.
const erasureOp = "gdpr_erasure"

// Erase erases the user userID (empty means the calling user). The user may ask for
// themselves, a tenant admin for any user of the tenant (identity.ErrAdminRequired
// otherwise); a user not in the tenant is identity.ErrUserNotFound. It returns the receipt and
// created=true when this call finished the erasure, created=false when the user was erased
// already. A run that stopped halfway is finished by the next request for the user.
func (e *Eraser) Erase(ctx context.Context, caller edge.Identity, userID string, r idempotency.Request) (Erasure, bool, error) {
	if userID == "" {
		if caller.Actor != edge.ActorUser || caller.UserID == "" {
			return Erasure{}, false, edge.Missing("user_id")
		}
		userID = caller.UserID
	}
	if !(caller.Actor == edge.ActorUser && caller.UserID == userID) {
		if err := e.GDPR.requireAdmin(ctx, caller); err != nil {
			return Erasure{}, false, err
		}
	}
	if !ids.Valid(ids.User, userID) {
		return Erasure{}, false, identity.ErrUserNotFound
	}
	held, err := e.Store.ErasureOfUser(ctx, caller.TenantID, userID)
	switch {
	case err == nil && held.Status == ErasureCompleted:
		return held, false, nil
	case err == nil:
		// A run stopped halfway: finish it.
	case errors.Is(err, ErrErasureNotFound):
		if _, err := e.GDPR.Users.UserByID(ctx, caller.TenantID, userID); err != nil {
			return Erasure{}, false, fmt.Errorf("erase: %w", err)
		}
		er := Erasure{ID: e.GDPR.IDs.New(ids.Erasure), TenantID: caller.TenantID, UserID: userID,
			RequestedBy: actorOf(caller), RequestedAt: e.GDPR.Clock.Now()}
		if r.Key != "" {
			scope := erasureOp + "|" + caller.TenantID + "|" + actorOf(caller)
			c, _, err := idempotency.Settle(ctx, e.GDPR.Keys, scope, r, er.ID, er.RequestedAt)
			if err != nil {
				return Erasure{}, false, fmt.Errorf("erase: %w", err)
			}
			er.ID, er.RequestedAt = c.ResourceID, c.CreatedAt
		}
		held, _, err = e.Store.ClaimErasure(ctx, er)
		if err != nil {
			return Erasure{}, false, fmt.Errorf("erase: %w", err)
		}
		if held.Status == ErasureCompleted {
			return held, false, nil
		}
	default:
		return Erasure{}, false, fmt.Errorf("erase: %w", err)
	}

	if err := e.run(ctx, caller, held); err != nil {
		return Erasure{}, false, fmt.Errorf("erase: %w", err)
	}
	done, err := e.Store.ErasureByID(ctx, caller.TenantID, held.ID)
	if err != nil {
		return Erasure{}, false, fmt.Errorf("erase: %w", err)
	}
	return done, true, nil
}

// run does the steps the receipt does not record yet, in order, recording each when done.
func (e *Eraser) run(ctx context.Context, caller edge.Identity, er Erasure) error {
	t, u := er.TenantID, er.UserID
	record := func(name string, count int64, outcome string) error {
		return e.Store.RecordStep(ctx, t, er.ID, ErasureStep{Name: name, Count: count, Outcome: outcome, At: e.GDPR.Clock.Now()})
	}
	todo := func(name string) bool { _, done := er.Steps[name]; return !done }

	if todo(StepSessions) || todo(StepRefreshTokens) {
		sessions, tokens, err := e.Data.EndSessions(ctx, t, u, e.GDPR.Clock.Now())
		if err != nil {
			return err
		}
		if todo(StepSessions) {
			if err := record(StepSessions, sessions, OutcomeEnded); err != nil {
				return err
			}
		}
		if err := record(StepRefreshTokens, tokens, OutcomeDeleted); err != nil {
			return err
		}
	}
	counted := []struct {
		name string
		del  func(ctx context.Context, tenantID, userID string) (int64, error)
	}{{StepMFA, e.Data.DeleteMFA}, {StepProfile, e.Data.DeleteProfile}}
	for _, c := range counted {
		if !todo(c.name) {
			continue
		}
		n, err := c.del(ctx, t, u)
		if err != nil {
			return err
		}
		if err := record(c.name, n, OutcomeDeleted); err != nil {
			return err
		}
	}
	if todo(StepKey) {
		if err := e.Keys.ShredUser(ctx, t, u); err != nil {
			return fmt.Errorf("shred user key: %w", err)
		}
		if err := record(StepKey, 1, OutcomeShredded); err != nil {
			return err
		}
	}
	if todo(StepExportArchives) {
		var n int64
		outcome := OutcomeNoBucket
		if e.Objects != nil {
			deleted, err := e.Objects.DeletePrefix(ctx, e.ExportPrefix+t+"/"+u+"/")
			if err != nil {
				return fmt.Errorf("delete export archives: %w", err)
			}
			n, outcome = int64(deleted), OutcomeDeleted
		}
		if err := record(StepExportArchives, n, outcome); err != nil {
			return err
		}
	}
	if todo(StepExportJobs) {
		n, err := e.Data.DeleteExportJobs(ctx, t, u)
		if err != nil {
			return err
		}
		if err := record(StepExportJobs, n, OutcomeDeleted); err != nil {
			return err
		}
	}
	// The product stores no media objects and has no search index yet.
	// TODO: delete the user's media objects and search entries here once either exists;
	// until then an erasure of a user with media would leave it behind.
	for _, name := range []string{StepMedia, StepSearch} {
		if todo(name) {
			if err := record(name, 0, OutcomeNone); err != nil {
				return err
			}
		}
	}
	if todo(StepConsents) {
		if err := record(StepConsents, 0, OutcomeKept); err != nil {
			return err
		}
	}
	if todo(StepAuditRecord) {
		if err := e.appendRecord(ctx, caller, er); err != nil {
			return err
		}
		if err := record(StepAuditRecord, 1, OutcomeAppended); err != nil {
			return err
		}
	}
	// Last: every step before it may name the user by pseudonym, which writes the link again.
	if todo(StepAuditPseudonym) {
		n, err := e.Audit.ForgetUser(ctx, t, u)
		if err != nil {
			return err
		}
		if err := record(StepAuditPseudonym, int64(n), OutcomeUnlinked); err != nil {
			return err
		}
	}
	return e.Store.CompleteErasure(ctx, t, er.ID, OutcomeUnlinked, e.GDPR.Clock.Now())
}

// appendRecord writes the audit record of the erasure: the caller as actor, the erasure as
// resource, the subject by pseudonym. Its id is derived from the erasure, so a retry after a
// crash does not append it twice.
func (e *Eraser) appendRecord(ctx context.Context, caller edge.Identity, er Erasure) error {
	subject, err := e.Audit.Pseudonym(ctx, er.TenantID, er.UserID)
	if err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	actor := audit.Actor{Type: audit.ActorAPIKey, ID: "tenant_api_key"}
	if caller.Actor != edge.ActorAPIKey {
		id, err := e.Audit.Pseudonym(ctx, er.TenantID, caller.UserID)
		if err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
		actor = audit.Actor{Type: audit.ActorUser, ID: id}
	}
	_, err = e.Audit.Append(ctx, er.TenantID, []audit.Input{{
		ID: erasureRecordTag + er.ID, Time: e.GDPR.Clock.Now(), Actor: actor, Action: ErasureAction,
		Resource: "erasure:" + er.ID, Outcome: audit.OutcomeSuccess, Status: 201,
		RequestID: requestIDFrom(ctx), Details: map[string]string{"subject": "user:" + subject},
	}})
	if err != nil {
		return fmt.Errorf("record erasure: %w", err)
	}
	return nil
}

// Erasure returns the tenant's erasure receipt with the id. A tenant admin may read any; the
// subject may read their own while they can still authenticate (in practice never after the
// erasure, which ends their sessions).
func (e *Eraser) Erasure(ctx context.Context, caller edge.Identity, id string) (Erasure, error) {
	if !ids.Valid(ids.Erasure, id) {
		return Erasure{}, ErrErasureNotFound
	}
	er, err := e.Store.ErasureByID(ctx, caller.TenantID, id)
	if err != nil && !errors.Is(err, ErrErasureNotFound) {
		return Erasure{}, fmt.Errorf("read erasure: %w", err)
	}
	if err == nil && caller.Actor == edge.ActorUser && caller.UserID == er.UserID {
		return er, nil
	}
	if aerr := e.GDPR.requireAdmin(ctx, caller); aerr != nil {
		return Erasure{}, aerr
	}
	return er, err
}
