package mongo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/audit"
	"caas.dev/shared/chat"
	"caas.dev/shared/gdpr"
	"caas.dev/shared/identity"
)

// exportClaimsCollection holds one document per claimed build attempt of an export, keyed
// export id|attempt: the insert into its unique _id decides which worker builds.
const exportClaimsCollection = "gdpr_export_claims"

// maxExportSessions bounds the sessions an export lists; older ones are left out.
const maxExportSessions = 1000

// ExportStore implements gdpr.ExportStore on caas_compliance.gdpr_exports.
type ExportStore struct {
	jobs   *mongo.Collection
	claims *mongo.Collection
}

var _ gdpr.ExportStore = (*ExportStore)(nil)

// NewExportStore returns the export store on c's compliance database. Run c.Migrate first.
func NewExportStore(c *Client) *ExportStore {
	return &ExportStore{jobs: c.compliance.Collection(ExportsCollection), claims: c.compliance.Collection(exportClaimsCollection)}
}

// exportDoc is a document of caas_compliance.gdpr_exports.
type exportDoc struct {
	ID          string         `bson:"_id"`
	TenantID    string         `bson:"tenant_id"`
	UserID      string         `bson:"user_id"`
	RequestedBy string         `bson:"requested_by"`
	Status      string         `bson:"status"`
	Attempts    int            `bson:"attempts"`
	Problem     string         `bson:"problem,omitempty"`
	ObjectKey   string         `bson:"object_key,omitempty"`
	Counts      map[string]int `bson:"counts,omitempty"`
	CreatedAt   time.Time      `bson:"created_at"`
	StartedAt   *time.Time     `bson:"started_at,omitempty"`
	CompletedAt *time.Time     `bson:"completed_at,omitempty"`
	ExpiresAt   *time.Time     `bson:"expires_at,omitempty"`
}

type exportClaimDoc struct {
	ID        string    `bson:"_id"` // export id|attempt, zero-padded
	TenantID  string    `bson:"tenant_id"`
	ExportID  string    `bson:"export_id"`
	Attempt   int       `bson:"attempt"`
	ClaimedAt time.Time `bson:"claimed_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Millisecond)
	return &u
}

func fromOpt(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func toExportDoc(e gdpr.Export) exportDoc {
	return exportDoc{ID: e.ID, TenantID: e.TenantID, UserID: e.UserID, RequestedBy: e.RequestedBy, Status: e.Status,
		Attempts: e.Attempts, Problem: e.Problem, ObjectKey: e.ObjectKey, Counts: e.Counts,
		CreatedAt: e.CreatedAt.UTC().Truncate(time.Millisecond), StartedAt: optTime(e.StartedAt),
		CompletedAt: optTime(e.CompletedAt), ExpiresAt: optTime(e.ExpiresAt)}
}

func (d exportDoc) export() gdpr.Export {
	return gdpr.Export{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, RequestedBy: d.RequestedBy, Status: d.Status,
		Attempts: d.Attempts, Problem: d.Problem, ObjectKey: d.ObjectKey, Counts: d.Counts, CreatedAt: d.CreatedAt.UTC(),
		StartedAt: fromOpt(d.StartedAt), CompletedAt: fromOpt(d.CompletedAt), ExpiresAt: fromOpt(d.ExpiresAt)}
}

// CreateExport implements gdpr.ExportStore: the insert into the unique _id decides.
func (s *ExportStore) CreateExport(ctx context.Context, e gdpr.Export) (gdpr.Export, bool, error) {
	d := toExportDoc(e)
	_, err := s.jobs.InsertOne(ctx, d)
	if err == nil {
		return d.export(), true, nil
	}
	if !isDuplicateKey(err) {
		return gdpr.Export{}, false, fmt.Errorf("insert export: %w", err)
	}
	held, err := s.Export(ctx, e.TenantID, e.ID)
	if err != nil {
		return gdpr.Export{}, false, err
	}
	return held, false, nil
}

// Export implements gdpr.ExportStore.
func (s *ExportStore) Export(ctx context.Context, tenantID, id string) (gdpr.Export, error) {
	var d exportDoc
	err := s.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return gdpr.Export{}, gdpr.ErrExportNotFound
	}
	if err != nil {
		return gdpr.Export{}, fmt.Errorf("read export: %w", err)
	}
	return d.export(), nil
}

func claimID(exportID string, attempt int) string { return fmt.Sprintf("%s|%04d", exportID, attempt) }

// ClaimExport implements gdpr.ExportStore by inserting the attempt's claim.
func (s *ExportStore) ClaimExport(ctx context.Context, tenantID, id string, attempt int, at time.Time) (bool, error) {
	_, err := s.claims.InsertOne(ctx, exportClaimDoc{ID: claimID(id, attempt), TenantID: tenantID, ExportID: id,
		Attempt: attempt, ClaimedAt: at.UTC().Truncate(time.Millisecond)})
	if err == nil {
		return true, nil
	}
	if isDuplicateKey(err) {
		return false, nil
	}
	return false, fmt.Errorf("claim export: %w", err)
}

// LastClaim implements gdpr.ExportStore.
func (s *ExportStore) LastClaim(ctx context.Context, tenantID, id string) (int, time.Time, error) {
	var d exportClaimDoc
	err := s.claims.FindOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "export_id", Value: id}},
		options.FindOne().SetSort(bson.D{{Key: "attempt", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read export claim: %w", err)
	}
	return d.Attempt, d.ClaimedAt.UTC(), nil
}

// SaveExport implements gdpr.ExportStore. Only the holder of the latest claim writes a job's
// state, so the replacement does not race another writer.
func (s *ExportStore) SaveExport(ctx context.Context, e gdpr.Export) error {
	res, err := s.jobs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: e.ID}, {Key: "tenant_id", Value: e.TenantID}}, toExportDoc(e))
	if err != nil {
		return fmt.Errorf("save export: %w", err)
	}
	if res.MatchedCount == 0 {
		return gdpr.ErrExportNotFound
	}
	return nil
}

// inFlightDoc marks the export of a user that is pending or running. It lives in the exports
// collection, _id "inflight|<tenant>|<user>", with the tenant and user ids, so erasing the user
// deletes it with their export jobs; it has no status or created_at, so no query of export jobs
// matches it.
type inFlightDoc struct {
	ID       string `bson:"_id"`
	TenantID string `bson:"tenant_id"`
	UserID   string `bson:"user_id"`
	ExportID string `bson:"export_id"`
}

func inFlightID(tenantID, userID string) string { return "inflight|" + tenantID + "|" + userID }

// MarkInFlight implements gdpr.ExportStore: the insert into the unique _id decides.
func (s *ExportStore) MarkInFlight(ctx context.Context, tenantID, userID, exportID string) (string, error) {
	id := inFlightID(tenantID, userID)
	_, err := s.jobs.InsertOne(ctx, inFlightDoc{ID: id, TenantID: tenantID, UserID: userID, ExportID: exportID})
	if err == nil {
		return exportID, nil
	}
	if !isDuplicateKey(err) {
		return "", fmt.Errorf("mark export in flight: %w", err)
	}
	var d inFlightDoc
	err = s.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil // cleared in between: the caller's next attempt inserts it
	}
	if err != nil {
		return "", fmt.Errorf("read export in flight: %w", err)
	}
	return d.ExportID, nil
}

// ClearInFlight implements gdpr.ExportStore.
func (s *ExportStore) ClearInFlight(ctx context.Context, tenantID, userID, exportID string) error {
	_, err := s.jobs.DeleteOne(ctx, bson.D{{Key: "_id", Value: inFlightID(tenantID, userID)},
		{Key: "tenant_id", Value: tenantID}, {Key: "export_id", Value: exportID}})
	if err != nil {
		return fmt.Errorf("clear export in flight: %w", err)
	}
	return nil
}

// WithdrawExport implements gdpr.ExportStore.
func (s *ExportStore) WithdrawExport(ctx context.Context, tenantID, id string) error {
	if _, err := s.jobs.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}); err != nil {
		return fmt.Errorf("withdraw export: %w", err)
	}
	return nil
}

// DueExports implements gdpr.ExportStore.
func (s *ExportStore) DueExports(ctx context.Context, createdBefore time.Time, maxAttempts, limit int) ([]gdpr.Export, error) {
	f := bson.D{
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: createdBefore.UTC()}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{gdpr.ExportPending, gdpr.ExportRunning}}}}},
			bson.D{{Key: "status", Value: gdpr.ExportFailed}, {Key: "attempts", Value: bson.D{{Key: "$lt", Value: maxAttempts}}}},
		}},
	}
	return s.find(ctx, f, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(int64(limit)))
}

// ExpiredExports implements gdpr.ExportStore.
func (s *ExportStore) ExpiredExports(ctx context.Context, now time.Time, limit int) ([]gdpr.Export, error) {
	f := bson.D{{Key: "status", Value: gdpr.ExportReady}, {Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now.UTC()}}}}
	return s.find(ctx, f, options.Find().SetSort(bson.D{{Key: "expires_at", Value: 1}}).SetLimit(int64(limit)))
}

func (s *ExportStore) find(ctx context.Context, f bson.D, opts *options.FindOptions) ([]gdpr.Export, error) {
	var docs []exportDoc
	if err := findAll(ctx, s.jobs, f, opts, &docs); err != nil {
		return nil, fmt.Errorf("find exports: %w", err)
	}
	out := make([]gdpr.Export, len(docs))
	for i, d := range docs {
		out[i] = d.export()
	}
	return out, nil
}

// ExportSource implements gdpr.ExportSource over the platform and compliance databases.
type ExportSource struct {
	sessions *mongo.Collection
	chat     *ChatStore
	messages *mongo.Collection
	audit    *mongo.Collection
}

var _ gdpr.ExportSource = (*ExportSource)(nil)

// NewExportSource returns the reader of the data a GDPR export holds.
func NewExportSource(c *Client) *ExportSource {
	return &ExportSource{sessions: c.Sessions().coll, chat: NewChatStore(c),
		messages: c.platform.Collection(messagesColl), audit: c.compliance.Collection(AuditRecordsCollection)}
}

// Sessions implements gdpr.ExportSource: live and ended sessions, newest first.
func (s *ExportSource) Sessions(ctx context.Context, tenantID, userID string) ([]identity.Session, error) {
	var docs []sessionDoc
	err := findAll(ctx, s.sessions, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(maxExportSessions), &docs)
	if err != nil {
		return nil, fmt.Errorf("export sessions: %w", err)
	}
	out := make([]identity.Session, len(docs))
	for i, d := range docs {
		out[i] = d.session()
	}
	return out, nil
}

// Conversations implements gdpr.ExportSource.
func (s *ExportSource) Conversations(ctx context.Context, tenantID, userID, beforeID string, limit int) ([]chat.Conversation, error) {
	return s.chat.ListConversations(ctx, tenantID, userID, beforeID, limit)
}

// SentMessages implements gdpr.ExportSource on the index tenant_id, sender_id, _id.
func (s *ExportSource) SentMessages(ctx context.Context, tenantID, userID, afterID string, limit int) ([]chat.Message, error) {
	f := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "sender_id", Value: userID}}
	if afterID != "" {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}})
	}
	var docs []messageDoc
	if err := findAll(ctx, s.messages, f, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)), &docs); err != nil {
		return nil, fmt.Errorf("export messages: %w", err)
	}
	out := make([]chat.Message, len(docs))
	for i, d := range docs {
		out[i] = d.message()
	}
	return out, nil
}

// AuditRecords implements gdpr.ExportSource.
func (s *ExportSource) AuditRecords(ctx context.Context, tenantID, pseudonym string, afterSeq int64, limit int) ([]audit.Record, error) {
	if pseudonym == "" {
		return nil, errors.New("export audit records: empty pseudonym")
	}
	f := bson.D{
		{Key: "tenant_id", Value: tenantID},
		{Key: "seq", Value: bson.D{{Key: "$gt", Value: afterSeq}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "actor_id", Value: pseudonym}},
			bson.D{{Key: "resource", Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(pseudonym)}}}},
		}},
	}
	var docs []auditRecordDoc
	if err := findAll(ctx, s.audit, f, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)), &docs); err != nil {
		return nil, fmt.Errorf("export audit records: %w", err)
	}
	out := make([]audit.Record, len(docs))
	for i, d := range docs {
		out[i] = d.record()
	}
	return out, nil
}

// migrateGDPRExports creates the export jobs and claims collections and their indexes, and the
// index by which an export finds the messages a user sent.
func (c *Client) migrateGDPRExports(ctx context.Context) error {
	for _, name := range []string{ExportsCollection, exportClaimsCollection} {
		if err := ensureChatCollection(ctx, c.compliance, name); err != nil {
			return err
		}
	}
	if err := ensureIndexes(ctx, c.compliance.Collection(ExportsCollection),
		mongo.IndexModel{Keys: bson.D{{Key: "status", Value: 1}, {Key: "created_at", Value: 1}}, Options: options.Index().SetName("status_created")},
		mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}}, Options: options.Index().SetName("tenant_user")},
	); err != nil {
		return err
	}
	if err := ensureIndexes(ctx, c.compliance.Collection(exportClaimsCollection),
		mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "export_id", Value: 1}, {Key: "attempt", Value: -1}}, Options: options.Index().SetName("tenant_export_attempt")},
	); err != nil {
		return err
	}
	return ensureIndexes(ctx, c.platform.Collection(messagesColl),
		mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "sender_id", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("tenant_sender_id")})
}
