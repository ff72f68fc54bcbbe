package gdpr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"caas.dev/shared/audit"
	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/idempotency"
	"caas.dev/shared/identity"
	"caas.dev/shared/ids"
	"caas.dev/shared/media"
)

// Statuses of an export job.
const (
	// ExportPending: stored, waiting for a worker.
	ExportPending = "pending"
	// ExportRunning: a worker has claimed it and is building the archive.
	ExportRunning = "running"
	// ExportReady: the archive is in the bucket and can be downloaded until ExpiresAt.
	ExportReady = "ready"
	// ExportFailed: the last attempt failed (Problem says why); the schedule retries it until
	// MaxExportAttempts attempts have failed.
	ExportFailed = "failed"
	// ExportExpired: the archive's time is over; there is no link any more.
	ExportExpired = "expired"
)

// Defaults of export jobs.
const (
	// DefaultExportTTL is how long an archive can be downloaded after it is built.
	DefaultExportTTL = 7 * 24 * time.Hour
	// DownloadURLTTL is how long a download link of GetExport is valid.
	DownloadURLTTL = 15 * time.Minute
	// MaxExportAttempts bounds the attempts at building one archive.
	MaxExportAttempts = 3
	// ExportPickupDelay is how long a job waits for its Kafka event before the schedule builds it.
	ExportPickupDelay = time.Minute
	// ExportLease is how long a claimed attempt is left to its worker before another may take
	// the next attempt; it exceeds the worker's timeout.
	ExportLease = 10 * time.Minute
	// exportPage is how many records of one kind are read at a time while building.
	exportPage = 200
)

// Problem codes of failed exports.
const (
	// ProblemExportBuild: reading the user's data or writing the archive failed.
	ProblemExportBuild = "export_build_failed"
	// ProblemExportUpload: the archive could not be stored in the bucket.
	ProblemExportUpload = "export_upload_failed"
	// ProblemUserGone: the user no longer exists (erased before the export was built).
	ProblemUserGone = "user_not_found"
)

// ErrExportNotFound: no export with this id in the caller's tenant.
var ErrExportNotFound = fault.New(fault.NotFound, "export_not_found", "no export with this id")

// ErrExportInProgress: another export of the user was starting at the same moment and could
// not be read yet; a retry answers it.
var ErrExportInProgress = fault.New(fault.Conflict, "export_in_progress",
	"another export of this user is starting; retry in a moment")

// startAttempts bounds how often StartExport replaces a stale in-flight marker before giving up.
const startAttempts = 3

// Export is one export job: a request for a copy of a user's data (GDPR Art. 15 and 20).
type Export struct {
	ID          string
	TenantID    string
	UserID      string
	RequestedBy string
	Status      string
	// Attempts is how many builds were claimed; Problem the code of the last failure.
	Attempts    int
	Problem     string
	ObjectKey   string
	Counts      map[string]int
	CreatedAt   time.Time
	StartedAt   time.Time
	CompletedAt time.Time
	ExpiresAt   time.Time
}

// StatusAt is e's status as of now: a ready export past ExpiresAt is expired.
func (e Export) StatusAt(now time.Time) string {
	if e.Status == ExportReady && !e.ExpiresAt.IsZero() && !now.Before(e.ExpiresAt) {
		return ExportExpired
	}
	return e.Status
}

// ExportStore keeps export jobs and settles who builds one. FerretDB has no atomic updates, so
// an attempt is claimed by inserting (export id, attempt number) into a unique index.
type ExportStore interface {
	// CreateExport stores e unless an export with e.ID exists; then it returns that one and
	// created=false.
	CreateExport(ctx context.Context, e Export) (stored Export, created bool, err error)
	// Export returns the tenant's export, or ErrExportNotFound.
	Export(ctx context.Context, tenantID, id string) (Export, error)
	// ClaimExport inserts the claim of attempt n of the export; false when it exists already.
	ClaimExport(ctx context.Context, tenantID, id string, attempt int, at time.Time) (bool, error)
	// LastClaim returns the highest claimed attempt and its time; 0 when none was claimed.
	LastClaim(ctx context.Context, tenantID, id string) (int, time.Time, error)
	// SaveExport writes e's state (status, attempts, problem, counts, times, object key). Only
	// the holder of the latest claim calls it.
	SaveExport(ctx context.Context, e Export) error
	// DueExports returns up to limit exports created before createdBefore still pending,
	// running, or failed with fewer than maxAttempts attempts, oldest first, of every tenant.
	DueExports(ctx context.Context, createdBefore time.Time, maxAttempts, limit int) ([]Export, error)
	// ExpiredExports returns up to limit ready exports of every tenant whose ExpiresAt is not
	// after now.
	ExpiredExports(ctx context.Context, now time.Time, limit int) ([]Export, error)
	// MarkInFlight inserts the user's in-flight marker naming exportID into a unique index and
	// returns the export the marker names: exportID when the insert won (or the marker named
	// it already), else the export of the marker that exists.
	MarkInFlight(ctx context.Context, tenantID, userID, exportID string) (string, error)
	// ClearInFlight deletes the user's in-flight marker if it still names exportID.
	ClearInFlight(ctx context.Context, tenantID, userID, exportID string) error
	// WithdrawExport deletes a job that was stored but lost the in-flight marker.
	WithdrawExport(ctx context.Context, tenantID, id string) error
}

// ExportSource reads the data of one user that an export holds, besides the profile and
// consents. Every method is scoped to one tenant.
type ExportSource interface {
	// Sessions returns the user's sessions, newest first.
	Sessions(ctx context.Context, tenantID, userID string) ([]identity.Session, error)
	// Conversations returns up to limit of the user's conversations with ids below beforeID
	// (all when empty), highest id first.
	Conversations(ctx context.Context, tenantID, userID, beforeID string, limit int) ([]chat.Conversation, error)
	// SentMessages returns up to limit messages the user sent with ids above afterID, by id.
	SentMessages(ctx context.Context, tenantID, userID, afterID string, limit int) ([]chat.Message, error)
	// AuditRecords returns up to limit records with seq above afterSeq whose actor id is
	// pseudonym or whose resource contains it, by seq.
	AuditRecords(ctx context.Context, tenantID, pseudonym string, afterSeq int64, limit int) ([]audit.Record, error)
}

// MediaLister lists the media a user uploaded. *mongo.MediaStore is one.
type MediaLister interface {
	// MediaOfUploader returns every media the user uploaded, oldest first.
	MediaOfUploader(ctx context.Context, tenantID, userID string) ([]media.Media, error)
}

// BodyOpener opens message bodies sealed under their sender's key. *keys.Service is one.
type BodyOpener interface {
	Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error)
}

// Pseudonyms gives the audit trail's name of a user. *audit.Service is one.
type Pseudonyms interface {
	Pseudonym(ctx context.Context, tenantID, userID string) (string, error)
}

// ArchiveStore keeps export archives. *s3.Store is one.
type ArchiveStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
	Delete(ctx context.Context, key string) error
}

// ExportQueue hands a new export job to the workers (the Kafka topic caas.gdpr.exports).
type ExportQueue interface {
	// EnqueueExport publishes the job event of export id of the tenant.
	EnqueueExport(ctx context.Context, tenantID, id string) error
}

// RetentionStatement is one line of the retention information of an export: how long a
// category of data is kept.
type RetentionStatement struct {
	Category string `json:"category"`
	Period   string `json:"period"`
}

// Processor is a recipient of the data: a backend the deployment hands it to.
type Processor struct {
	Name    string `json:"name"`
	Purpose string `json:"purpose"`
}

// Exporter starts, builds and shows GDPR exports. It authorizes through Service.
type Exporter struct {
	*Service
	Exports  ExportStore
	Source   ExportSource
	Bodies   BodyOpener
	Audit    Pseudonyms
	Archives ArchiveStore
	// ObjectPrefix starts every archive's object key (mongo.ExportObjectPrefix).
	ObjectPrefix string
	// Queue may be nil: the schedule then builds every job.
	Queue ExportQueue
	// Media lists the media the user uploaded, for media.json; nil exports none.
	Media MediaLister
	// Retention returns the retention periods of the tenant; nil gives DefaultRetention.
	Retention func(ctx context.Context, tenantID string) ([]RetentionStatement, error)
	// Processors are the deployment's backends; nil gives DefaultProcessors.
	Processors []Processor
	// TTL is how long an archive is kept after it is built; 0 means DefaultExportTTL.
	TTL time.Duration
}

// ExportRequest is the body of POST /v1/gdpr/exports.
type ExportRequest struct {
	// UserID is the user whose data is exported; empty means the calling user.
	UserID string `json:"user_id,omitempty"`
}

// startExportOp names export requests in the scope of their idempotency keys.
const startExportOp = "gdpr_export"

// StartExport checks that caller may act for the user, stores a pending export job and hands
// it to the workers. With a key in r, a repeat of the same request returns the first job
// (created=false). A failed hand-over is logged, not returned: the schedule builds the job.
//
// A user has at most one export pending or running: while one is, StartExport returns it
// (created=false) and starts nothing. Without atomic updates this is settled by inserting the
// user's in-flight marker, which names a job already stored, into a unique index: the job of
// the request that lost is withdrawn (deleted) before anyone was told of it. A marker whose
// export is no longer pending or running (or is gone) is stale and replaced.
func (x *Exporter) StartExport(ctx context.Context, caller edge.Identity, in ExportRequest, r idempotency.Request) (Export, bool, error) {
	if in.UserID == "" && caller.Actor == edge.ActorAPIKey {
		return Export{}, false, edge.Missing("user_id")
	}
	userID, err := x.authorize(ctx, caller, in.UserID)
	if err != nil {
		return Export{}, false, err
	}
	e := Export{ID: x.IDs.New(ids.Export), TenantID: caller.TenantID, UserID: userID, RequestedBy: actorOf(caller),
		Status: ExportPending, CreatedAt: x.Clock.Now().UTC().Truncate(time.Millisecond)}
	if r.Key != "" {
		scope := startExportOp + "|" + caller.TenantID + "|" + actorOf(caller)
		held, _, err := idempotency.Settle(ctx, x.Keys, scope, r, e.ID, e.CreatedAt)
		if err != nil {
			return Export{}, false, fmt.Errorf("start export: %w", err)
		}
		e.ID, e.CreatedAt = held.ResourceID, held.CreatedAt
	}
	e.ObjectKey = x.ObjectKey(e)
	stored, created, err := x.Exports.CreateExport(ctx, e)
	if err != nil {
		return Export{}, false, fmt.Errorf("start export: %w", err)
	}
	if created {
		other, busy, err := x.claimInFlight(ctx, stored)
		if err != nil || busy {
			if werr := x.Exports.WithdrawExport(context.WithoutCancel(ctx), stored.TenantID, stored.ID); werr != nil {
				return Export{}, false, fmt.Errorf("withdraw export: %w", werr)
			}
			return other, false, err
		}
	}
	if stored.Status == ExportPending && x.Queue != nil {
		if err := x.Queue.EnqueueExport(ctx, stored.TenantID, stored.ID); err != nil {
			edge.Logger(ctx).WarnContext(ctx, "export job not published; the schedule will build it",
				"export_id", stored.ID, "error", err.Error())
		}
	}
	return stored, created, nil
}

// claimInFlight makes e the user's in-flight export, or returns the user's export that is
// pending or running (busy=true).
func (x *Exporter) claimInFlight(ctx context.Context, e Export) (Export, bool, error) {
	for i := 0; i < startAttempts; i++ {
		holder, err := x.Exports.MarkInFlight(ctx, e.TenantID, e.UserID, e.ID)
		if err != nil {
			return Export{}, false, fmt.Errorf("start export: %w", err)
		}
		if holder == e.ID {
			return Export{}, false, nil
		}
		other, err := x.Exports.Export(ctx, e.TenantID, holder)
		if err == nil && (other.Status == ExportPending || other.Status == ExportRunning) {
			return other, true, nil
		}
		if err != nil && !errors.Is(err, ErrExportNotFound) {
			return Export{}, false, fmt.Errorf("start export: %w", err)
		}
		if err := x.Exports.ClearInFlight(ctx, e.TenantID, e.UserID, holder); err != nil {
			return Export{}, false, fmt.Errorf("start export: %w", err)
		}
	}
	return Export{}, false, ErrExportInProgress
}

// ExportView is an export as its requester sees it: the job and, when ready, a download link.
type ExportView struct {
	Export
	// Status is the job's status now (a ready export past its expiry is expired).
	Status       string
	DownloadURL  string
	URLExpiresAt time.Time
}

// GetExport returns the tenant's export id if caller may act for its user, with a download
// link valid DownloadURLTTL while it is ready.
func (x *Exporter) GetExport(ctx context.Context, caller edge.Identity, id string) (ExportView, error) {
	if caller.TenantID == "" {
		return ExportView{}, fault.ErrUnauthorized
	}
	if !ids.Valid(ids.Export, id) {
		return ExportView{}, ErrExportNotFound
	}
	e, err := x.Exports.Export(ctx, caller.TenantID, id)
	if err != nil {
		return ExportView{}, err
	}
	if _, err := x.authorize(ctx, caller, e.UserID); err != nil {
		return ExportView{}, err
	}
	now := x.Clock.Now()
	v := ExportView{Export: e, Status: e.StatusAt(now)}
	if v.Status == ExportReady {
		url, err := x.Archives.PresignGet(ctx, e.ObjectKey, DownloadURLTTL)
		if err != nil {
			return ExportView{}, fmt.Errorf("get export: %w", err)
		}
		v.DownloadURL, v.URLExpiresAt = url, now.Add(DownloadURLTTL).UTC()
		if v.URLExpiresAt.After(e.ExpiresAt) {
			v.URLExpiresAt = e.ExpiresAt
		}
	}
	return v, nil
}

// ObjectKey is where the archive of e is stored: the prefix, tenant, user and export id.
func (x *Exporter) ObjectKey(e Export) string {
	return x.ObjectPrefix + e.TenantID + "/" + e.UserID + "/" + e.ID + ".zip"
}

// RunResult counts what one worker run did.
type RunResult struct {
	Built   int `json:"built"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	Expired int `json:"expired"`
}

// Build claims the next attempt at export id of the tenant and builds its archive. It skips
// (false, nil) an export that is finished, out of attempts, or claimed by a live worker. A
// failed build is saved as failed with its problem code and returned as an error.
func (x *Exporter) Build(ctx context.Context, tenantID, id string) (bool, error) {
	e, err := x.Exports.Export(ctx, tenantID, id)
	if errors.Is(err, ErrExportNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("build export: %w", err)
	}
	if e.Status == ExportReady || e.Status == ExportExpired {
		return false, nil
	}
	last, at, err := x.Exports.LastClaim(ctx, tenantID, id)
	if err != nil {
		return false, fmt.Errorf("build export: %w", err)
	}
	now := x.Clock.Now().UTC().Truncate(time.Millisecond)
	if last > 0 && e.Status != ExportFailed && now.Sub(at) < ExportLease {
		return false, nil // another worker holds the attempt
	}
	if last >= MaxExportAttempts {
		if e.Status != ExportFailed {
			// The last attempt's worker died: give the job up, so sweeps stop picking it.
			e.Status, e.Problem = ExportFailed, ProblemExportBuild
			if err := x.Exports.SaveExport(ctx, e); err != nil {
				return false, fmt.Errorf("build export: %w", err)
			}
		}
		return false, nil
	}
	won, err := x.Exports.ClaimExport(ctx, tenantID, id, last+1, now)
	if err != nil || !won {
		return false, err
	}
	e.Attempts, e.Status, e.StartedAt, e.Problem = last+1, ExportRunning, now, ""
	if err := x.Exports.SaveExport(ctx, e); err != nil {
		return false, fmt.Errorf("build export: %w", err)
	}

	counts, problem, buildErr := x.build(ctx, e)
	if buildErr != nil {
		e.Status, e.Problem = ExportFailed, problem
		if err := x.Exports.SaveExport(ctx, e); err != nil {
			return false, fmt.Errorf("build export: %w; save failure: %w", buildErr, err)
		}
		return false, fmt.Errorf("build export %s: %w", e.ID, buildErr)
	}
	done := x.Clock.Now().UTC().Truncate(time.Millisecond)
	ttl := x.TTL
	if ttl <= 0 {
		ttl = DefaultExportTTL
	}
	e.Status, e.Counts, e.CompletedAt, e.ExpiresAt, e.ObjectKey = ExportReady, counts, done, done.Add(ttl), x.ObjectKey(e)
	if err := x.Exports.SaveExport(ctx, e); err != nil {
		return false, fmt.Errorf("build export: %w", err)
	}
	return true, nil
}

// Sweep builds up to limit jobs that waited longer than ExportPickupDelay (a lost Kafka
// event, a crashed worker, a failure to retry) and deletes the archives of expired exports.
func (x *Exporter) Sweep(ctx context.Context, limit int) (RunResult, error) {
	var res RunResult
	now := x.Clock.Now()
	due, err := x.Exports.DueExports(ctx, now.Add(-ExportPickupDelay), MaxExportAttempts, limit)
	if err != nil {
		return res, fmt.Errorf("sweep exports: %w", err)
	}
	var errs []error
	for _, e := range due {
		built, err := x.Build(ctx, e.TenantID, e.ID)
		switch {
		case err != nil:
			res.Failed++
			errs = append(errs, err)
		case built:
			res.Built++
		default:
			res.Skipped++
		}
	}
	expired, err := x.Exports.ExpiredExports(ctx, now, limit)
	if err != nil {
		return res, fmt.Errorf("sweep exports: %w", err)
	}
	for _, e := range expired {
		if e.ObjectKey != "" {
			if err := x.Archives.Delete(ctx, e.ObjectKey); err != nil {
				errs = append(errs, fmt.Errorf("delete archive of %s: %w", e.ID, err))
				continue
			}
		}
		e.Status = ExportExpired
		if err := x.Exports.SaveExport(ctx, e); err != nil {
			errs = append(errs, fmt.Errorf("expire %s: %w", e.ID, err))
			continue
		}
		res.Expired++
	}
	return res, errors.Join(errs...)
}
