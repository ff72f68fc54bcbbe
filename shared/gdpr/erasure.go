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
	"caas.dev/shared/media"
	"caas.dev/shared/retention"
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

// Refusals of an erasure because of a legal hold (GDPR Art. 17(3)(e)). The detail says which
// kind of hold applies, never the hold's reason.
var (
	// ErrUserHold: a legal hold names the user.
	ErrUserHold = fault.New(fault.Conflict, "legal_hold", "the user is under a legal hold")
	// ErrConversationHold: the user is a member of, or sent messages in, a conversation under
	// a legal hold; shredding the user's key would destroy the held messages.
	ErrConversationHold = fault.New(fault.Conflict, "legal_hold",
		"the user is a member of, or sent messages in, a conversation under a legal hold")
)

// ErasureRunStale is how old a run's claim must be before another request takes the run over:
// the claiming run has died by then.
const ErasureRunStale = 2 * time.Minute

// erasureRetryAfter is the Retry-After, in seconds, of ErrErasureInProgress.
const erasureRetryAfter = 5

// ErrErasureInProgress: another request is erasing the user now; a repeat after Retry-After
// seconds gets the receipt.
var ErrErasureInProgress = func() *fault.Error {
	e := fault.New(fault.Conflict, "erasure_in_progress", "an erasure of this user is running; retry later")
	e.RetryAfter = erasureRetryAfter
	return e
}()

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
	// ClaimRun claims the run of the user's erasure for token by inserting into a unique index;
	// false when another run holds a claim younger than staleAfter (an older one is taken over).
	ClaimRun(ctx context.Context, tenantID, userID, token string, now time.Time, staleAfter time.Duration) (bool, error)
	// ReleaseRun ends the claim of token, if it still holds it.
	ReleaseRun(ctx context.Context, tenantID, userID, token string) error
}

// LegalHolds lists a tenant's legal holds; *mongo.RetentionStore is the production one.
type LegalHolds interface {
	// Holds returns up to limit of the tenant's holds with ids after afterID ("" from the
	// first), by id.
	Holds(ctx context.Context, tenantID, afterID string, limit int) ([]retention.Hold, error)
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
	// CountConsents counts the user's consent records (erasure keeps them).
	CountConsents(ctx context.Context, tenantID, userID string) (int64, error)
	// InvolvedIn reports whether the user is a member of, or sent a message in, one of the
	// tenant's conversations with the ids.
	InvolvedIn(ctx context.Context, tenantID, userID string, conversationIDs []string) (bool, error)
}

// KeyShredder destroys a user's own key; *keys.Service is the production one.
type KeyShredder interface {
	ShredUser(ctx context.Context, tenantID, userID string) error
}

// ObjectDeleter deletes objects by key prefix; *s3.Store is the production one.
type ObjectDeleter interface {
	DeletePrefix(ctx context.Context, prefix string) (int, error)
}

// MediaEraser finds and deletes the media documents a user uploaded; *mongo.MediaStore is the
// production one.
type MediaEraser interface {
	// MediaOfUploader returns every media the user uploaded.
	MediaOfUploader(ctx context.Context, tenantID, userID string) ([]media.Media, error)
	// DeleteMediaDocs deletes the tenant's media documents with the ids and returns how many.
	DeleteMediaDocs(ctx context.Context, tenantID string, ids []string) (int, error)
}

// ObjectRemover deletes one object by key; *s3.Store is the production one.
type ObjectRemover interface {
	Delete(ctx context.Context, key string) error
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
	// Media finds the user's uploaded media; nil when the deployment stores none.
	Media MediaEraser
	// MediaObjects deletes media objects (the bucket); nil when no bucket is configured.
	MediaObjects ObjectRemover
	// Holds gives the tenant's legal holds; an erasure of a user they cover is refused.
	Holds LegalHolds
}

// eraseMedia deletes the objects of the media the user uploaded, then their documents, and
// returns how many media it deleted. An object is deleted before its document, so a retry after
// a failure still finds the document and deletes the object again (a missing object is no error).
func (e *Eraser) eraseMedia(ctx context.Context, tenantID, userID string) (int64, string, error) {
	if e.Media == nil {
		return 0, OutcomeNone, nil
	}
	ms, err := e.Media.MediaOfUploader(ctx, tenantID, userID)
	if err != nil {
		return 0, "", fmt.Errorf("find media: %w", err)
	}
	if len(ms) > 0 && e.MediaObjects == nil {
		return 0, "", errors.New("delete media objects: no bucket configured")
	}
	mediaIDs := make([]string, 0, len(ms))
	for _, m := range ms {
		// The media's object and an upload made after completion, which nothing else deletes.
		for _, k := range media.Keys(m) {
			if err := e.MediaObjects.Delete(ctx, k); err != nil {
				return 0, "", fmt.Errorf("delete media object %s: %w", m.ID, err)
			}
		}
		mediaIDs = append(mediaIDs, m.ID)
	}
	n, err := e.Media.DeleteMediaDocs(ctx, tenantID, mediaIDs)
	if err != nil {
		return 0, "", err
	}
	return int64(n), OutcomeDeleted, nil
}

// erasureOp names erasure requests in the scope of their idempotency keys.
const erasureOp = "gdpr_erasure"

// Erase erases the user userID (empty means the calling user). The user may ask for
// themselves, a tenant admin for any user of the tenant (identity.ErrAdminRequired
// otherwise); a user not in the tenant is identity.ErrUserNotFound. It returns the receipt and
// created=true when this call finished the erasure, created=false when the user was erased
// already. A run that stopped halfway is finished by the next request for the user. A user
// under a legal hold is refused with ErrUserHold or ErrConversationHold; while another run
// works on the user, the request fails with ErrErasureInProgress. With r.Key, the key is bound
// to the request on every answer past the caller's checks (the repeat answer and a refusal
// included), and a different request with it fails with idempotency.ErrConflict.
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
	if err != nil && !errors.Is(err, ErrErasureNotFound) {
		return Erasure{}, false, fmt.Errorf("erase: %w", err)
	}
	// The key is bound to this request whatever the answer, the repeat answer for a user
	// erased already included, so that it can never be reused for another user.
	er := Erasure{ID: e.GDPR.IDs.New(ids.Erasure), TenantID: caller.TenantID, UserID: userID,
		RequestedBy: actorOf(caller), RequestedAt: e.GDPR.Clock.Now()}
	if err == nil {
		er.ID = held.ID
	}
	if r.Key != "" {
		scope := erasureOp + "|" + caller.TenantID + "|" + actorOf(caller)
		c, _, err := idempotency.Settle(ctx, e.GDPR.Keys, scope, r, er.ID, er.RequestedAt)
		if err != nil {
			return Erasure{}, false, fmt.Errorf("erase: %w", err)
		}
		er.ID, er.RequestedAt = c.ResourceID, c.CreatedAt
	}
	switch {
	case err == nil && held.Status == ErasureCompleted:
		return held, false, nil
	case err == nil:
		// A run stopped halfway: finish it, unless a hold came since.
	default:
		if _, err := e.GDPR.Users.UserByID(ctx, caller.TenantID, userID); err != nil {
			return Erasure{}, false, fmt.Errorf("erase: %w", err)
		}
	}

	// One run at a time per user: concurrent runs would redo steps and, FerretDB updates not
	// being atomic, lose each other's writes to the receipt.
	token := ids.Random{}.New("run")
	claimed, err := e.Store.ClaimRun(ctx, caller.TenantID, userID, token, e.GDPR.Clock.Now(), ErasureRunStale)
	if err != nil {
		return Erasure{}, false, fmt.Errorf("erase: %w", err)
	}
	if !claimed {
		return Erasure{}, false, ErrErasureInProgress
	}
	defer func() { _ = e.Store.ReleaseRun(context.WithoutCancel(ctx), caller.TenantID, userID, token) }()

	// Holds are checked only now, after the claim is stored: a hold placed from here on sees
	// the claim and withdraws itself (retention.Service.PlaceHold), and one placed before is
	// seen here, so an erasure and a hold on the same user never both succeed.
	if err := e.checkHolds(ctx, caller.TenantID, userID); err != nil {
		return Erasure{}, false, err
	}

	// Read again under the claim: a run that ended just before it may have finished the erasure.
	held, err = e.Store.ErasureOfUser(ctx, caller.TenantID, userID)
	switch {
	case err == nil && held.Status == ErasureCompleted:
		return held, false, nil
	case err == nil:
	case errors.Is(err, ErrErasureNotFound):
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

// checkHolds refuses the erasure of a user under a legal hold (GDPR Art. 17(3)(e)): a hold on
// the user, or on a conversation the user is a member of or sent messages in, whose messages
// shredding the user's key would destroy.
func (e *Eraser) checkHolds(ctx context.Context, tenantID, userID string) error {
	if e.Holds == nil {
		return errors.New("check legal holds: no hold store configured")
	}
	var conversations []string
	for after := ""; ; {
		hs, err := e.Holds.Holds(ctx, tenantID, after, retention.MaxHoldsLimit)
		if err != nil {
			return fmt.Errorf("check legal holds: %w", err)
		}
		for _, h := range hs {
			switch {
			case h.UserID == userID:
				return ErrUserHold
			case h.ConversationID != "":
				conversations = append(conversations, h.ConversationID)
			}
		}
		if len(hs) < retention.MaxHoldsLimit {
			break
		}
		after = hs[len(hs)-1].ID
	}
	involved, err := e.Data.InvolvedIn(ctx, tenantID, userID, conversations)
	if err != nil {
		return fmt.Errorf("check legal holds: %w", err)
	}
	if involved {
		return ErrConversationHold
	}
	return nil
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
	if todo(StepMedia) {
		n, outcome, err := e.eraseMedia(ctx, t, u)
		if err != nil {
			return err
		}
		if err := record(StepMedia, n, outcome); err != nil {
			return err
		}
	}
	// The product has no search index yet.
	// TODO: delete the user's search entries here once a search index exists; until then
	// there is nothing to delete.
	if todo(StepSearch) {
		if err := record(StepSearch, 0, OutcomeNone); err != nil {
			return err
		}
	}
	if todo(StepConsents) {
		n, err := e.Data.CountConsents(ctx, t, u)
		if err != nil {
			return err
		}
		if err := record(StepConsents, n, OutcomeKept); err != nil {
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
	actor := audit.Actor{Type: audit.ActorAPIKey, ID: audit.APIKeyActorID}
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
