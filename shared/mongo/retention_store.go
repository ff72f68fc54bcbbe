package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/retention"
)

// Kinds of document in RetentionPoliciesCollection: a tenant's policy (_id the tenant id) and a
// conversation's override (_id tenant_id|conversation_id).
const (
	retentionKindTenant       = "tenant"
	retentionKindConversation = "conversation"
)

// retentionPolicyDoc is a document of caas_compliance.retention_policies. Periods are days;
// 0 keeps forever. An override's nil period keeps the tenant's.
type retentionPolicyDoc struct {
	ID               string    `bson:"_id"`
	Kind             string    `bson:"kind"`
	TenantID         string    `bson:"tenant_id"`
	ConversationID   string    `bson:"conversation_id,omitempty"`
	MessagesDays     *int      `bson:"messages_days,omitempty"`
	MediaDays        *int      `bson:"media_days,omitempty"`
	AuditRecordsDays int       `bson:"audit_records_days,omitempty"`
	ExportsDays      int       `bson:"exports_days,omitempty"`
	SessionsDays     int       `bson:"sessions_days,omitempty"`
	UpdatedAt        time.Time `bson:"updated_at"`
	UpdatedBy        string    `bson:"updated_by"`
}

// legalHoldDoc is a document of caas_compliance.legal_holds.
type legalHoldDoc struct {
	ID             string    `bson:"_id"`
	TenantID       string    `bson:"tenant_id"`
	UserID         string    `bson:"user_id,omitempty"`
	ConversationID string    `bson:"conversation_id,omitempty"`
	Reason         string    `bson:"reason"`
	CreatedAt      time.Time `bson:"created_at"`
	CreatedBy      string    `bson:"created_by"`
}

// retentionExportDoc is the part of a caas_compliance.gdpr_exports document retention reads.
type retentionExportDoc struct {
	ID        string    `bson:"_id"`
	UserID    string    `bson:"user_id"`
	ObjectKey string    `bson:"object_key"`
	CreatedAt time.Time `bson:"created_at"`
}

// RetentionStore implements retention.Store over the platform and compliance databases. Its
// deletions find a bounded batch of ids with a short query, then delete those ids: no query
// holds a lock for long, so other traffic goes on.
type RetentionStore struct {
	policies      *mongo.Collection
	holds         *mongo.Collection
	users         *mongo.Collection
	jobs          *mongo.Collection
	conversations *mongo.Collection
	messages      *mongo.Collection
	messageKeys   *mongo.Collection
	sessions      *mongo.Collection
	tokens        *mongo.Collection
	spends        *mongo.Collection
	exports       *mongo.Collection
	audit         *AuditStore
	trims         *mongo.Collection
}

var _ retention.Store = (*RetentionStore)(nil)

// Retention returns the retention store.
func (c *Client) Retention() *RetentionStore {
	return &RetentionStore{
		policies:      c.compliance.Collection(RetentionPoliciesCollection),
		holds:         c.compliance.Collection(LegalHoldsCollection),
		users:         c.platform.Collection(UsersCollection),
		jobs:          c.platform.Collection(jobStateColl),
		conversations: c.platform.Collection(conversationsColl),
		messages:      c.platform.Collection(messagesColl),
		messageKeys:   c.platform.Collection(messageKeysColl),
		sessions:      c.platform.Collection(SessionsCollection),
		tokens:        c.platform.Collection(RefreshTokensCollection),
		spends:        c.platform.Collection(RefreshSpendsCollection),
		exports:       c.compliance.Collection(ExportsCollection),
		audit:         c.Audit(),
		trims:         c.compliance.Collection(AuditTrimsCollection),
	}
}

// migrateRetention creates the indexes retention's queries use.
func (c *Client) migrateRetention(ctx context.Context) error {
	if err := ensureIndexes(ctx, c.compliance.Collection(RetentionPoliciesCollection), mongo.IndexModel{
		Keys: bson.D{{Key: "kind", Value: 1}, {Key: "tenant_id", Value: 1}},
	}); err != nil {
		return err
	}
	return ensureIndexes(ctx, c.compliance.Collection(LegalHoldsCollection), mongo.IndexModel{
		Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "created_at", Value: 1}},
	}, mongo.IndexModel{
		Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "_id", Value: 1}},
	})
}

// Policy implements retention.Store.
func (s *RetentionStore) Policy(ctx context.Context, tenantID string) (retention.Policy, error) {
	var d retentionPolicyDoc
	err := s.policies.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID}, {Key: "kind", Value: retentionKindTenant}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return retention.Policy{}, retention.ErrNotFound
	}
	if err != nil {
		return retention.Policy{}, fmt.Errorf("find retention policy: %w", err)
	}
	return retention.Policy{TenantID: d.TenantID, Periods: retention.Periods{
		MessagesDays: deref(d.MessagesDays), MediaDays: deref(d.MediaDays), AuditRecordsDays: d.AuditRecordsDays,
		ExportsDays: d.ExportsDays, SessionsDays: d.SessionsDays,
	}, UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy}, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// PutPolicy implements retention.Store. Replacing the whole document needs no atomic update:
// of two concurrent writes, one policy wins whole.
func (s *RetentionStore) PutPolicy(ctx context.Context, p retention.Policy) error {
	d := retentionPolicyDoc{ID: p.TenantID, Kind: retentionKindTenant, TenantID: p.TenantID,
		MessagesDays: &p.MessagesDays, MediaDays: &p.MediaDays, AuditRecordsDays: p.AuditRecordsDays,
		ExportsDays: p.ExportsDays, SessionsDays: p.SessionsDays, UpdatedAt: p.UpdatedAt, UpdatedBy: p.UpdatedBy}
	if _, err := s.policies.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("store retention policy: %w", err)
	}
	return nil
}

// Tenants implements retention.Store.
func (s *RetentionStore) Tenants(ctx context.Context, afterTenant string, limit int) ([]string, error) {
	cur, err := s.policies.Find(ctx, bson.D{{Key: "kind", Value: retentionKindTenant}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: afterTenant}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list retention policies: %w", err)
	}
	return decodeIDs(ctx, cur)
}

func decodeIDs(ctx context.Context, cur *mongo.Cursor) ([]string, error) {
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read ids: %w", err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out, nil
}

// Overrides implements retention.Store.
func (s *RetentionStore) Overrides(ctx context.Context, tenantID string) ([]retention.Override, error) {
	var docs []retentionPolicyDoc
	if err := findAll(ctx, s.policies, bson.D{{Key: "kind", Value: retentionKindConversation}, {Key: "tenant_id", Value: tenantID}}, nil, &docs); err != nil {
		return nil, fmt.Errorf("find retention overrides: %w", err)
	}
	out := make([]retention.Override, len(docs))
	for i, d := range docs {
		out[i] = retention.Override{TenantID: d.TenantID, ConversationID: d.ConversationID, MessagesDays: d.MessagesDays,
			MediaDays: d.MediaDays, UpdatedAt: d.UpdatedAt.UTC(), UpdatedBy: d.UpdatedBy}
	}
	return out, nil
}

// PutOverride implements retention.Store.
func (s *RetentionStore) PutOverride(ctx context.Context, o retention.Override) error {
	d := retentionPolicyDoc{ID: o.TenantID + "|" + o.ConversationID, Kind: retentionKindConversation, TenantID: o.TenantID,
		ConversationID: o.ConversationID, MessagesDays: o.MessagesDays, MediaDays: o.MediaDays, UpdatedAt: o.UpdatedAt, UpdatedBy: o.UpdatedBy}
	if _, err := s.policies.ReplaceOne(ctx, bson.D{{Key: "_id", Value: d.ID}}, d, options.Replace().SetUpsert(true)); err != nil {
		return fmt.Errorf("store retention override: %w", err)
	}
	return nil
}

// DeleteOverride implements retention.Store.
func (s *RetentionStore) DeleteOverride(ctx context.Context, tenantID, conversationID string) error {
	res, err := s.policies.DeleteOne(ctx, bson.D{{Key: "_id", Value: tenantID + "|" + conversationID}, {Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return fmt.Errorf("delete retention override: %w", err)
	}
	if res.DeletedCount == 0 {
		return retention.ErrNotFound
	}
	return nil
}

// ConversationExists implements retention.Store.
func (s *RetentionStore) ConversationExists(ctx context.Context, tenantID, conversationID string) (bool, error) {
	n, err := s.conversations.CountDocuments(ctx, bson.D{{Key: "_id", Value: conversationID}, {Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return false, fmt.Errorf("find conversation: %w", err)
	}
	return n > 0, nil
}

// InsertHold implements retention.Store.
func (s *RetentionStore) InsertHold(ctx context.Context, h retention.Hold) error {
	_, err := s.holds.InsertOne(ctx, legalHoldDoc{ID: h.ID, TenantID: h.TenantID, UserID: h.UserID,
		ConversationID: h.ConversationID, Reason: h.Reason, CreatedAt: h.CreatedAt, CreatedBy: h.CreatedBy})
	if err != nil {
		return fmt.Errorf("insert legal hold: %w", err)
	}
	return nil
}

// CountHolds implements retention.Store.
func (s *RetentionStore) CountHolds(ctx context.Context, tenantID string) (int, error) {
	n, err := s.holds.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return 0, fmt.Errorf("count legal holds: %w", err)
	}
	return int(n), nil
}

// UserExists implements retention.Store.
func (s *RetentionStore) UserExists(ctx context.Context, tenantID, userID string) (bool, error) {
	n, err := s.users.CountDocuments(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return false, fmt.Errorf("find user: %w", err)
	}
	return n > 0, nil
}

// Holds implements retention.Store.
func (s *RetentionStore) Holds(ctx context.Context, tenantID, afterID string, limit int) ([]retention.Hold, error) {
	filter := bson.D{{Key: "tenant_id", Value: tenantID}}
	if afterID != "" {
		filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}})
	}
	var docs []legalHoldDoc
	if err := findAll(ctx, s.holds, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)), &docs); err != nil {
		return nil, fmt.Errorf("find legal holds: %w", err)
	}
	out := make([]retention.Hold, len(docs))
	for i, d := range docs {
		out[i] = retention.Hold{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, ConversationID: d.ConversationID,
			Reason: d.Reason, CreatedAt: d.CreatedAt.UTC(), CreatedBy: d.CreatedBy}
	}
	return out, nil
}

// DeleteHold implements retention.Store.
func (s *RetentionStore) DeleteHold(ctx context.Context, tenantID, id string) error {
	res, err := s.holds.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return fmt.Errorf("delete legal hold: %w", err)
	}
	if res.DeletedCount == 0 {
		return retention.ErrNotFound
	}
	return nil
}

func retentionJobID(tenantID, category string) string {
	return "retention|" + tenantID + "|" + category
}

// Cursor implements retention.Store; the cursors live in caas_platform.job_state.
func (s *RetentionStore) Cursor(ctx context.Context, tenantID, category string) (string, error) {
	var doc jobStateDoc
	err := s.jobs.FindOne(ctx, bson.D{{Key: "_id", Value: retentionJobID(tenantID, category)}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read job state: %w", err)
	}
	return doc.Cursor, nil
}

// SetCursor implements retention.Store. Overlapping runs only redo each other's work,
// whichever cursor is kept.
func (s *RetentionStore) SetCursor(ctx context.Context, tenantID, category, cursor string) error {
	id := retentionJobID(tenantID, category)
	_, err := s.jobs.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}},
		jobStateDoc{ID: id, Cursor: cursor, UpdatedAt: time.Now().UTC()}, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("store job state: %w", err)
	}
	return nil
}

// Conversations implements retention.Store.
func (s *RetentionStore) Conversations(ctx context.Context, tenantID, afterID string, limit int) ([]string, error) {
	cur, err := s.conversations.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list conversations: %w", err)
	}
	return decodeIDs(ctx, cur)
}

// notIn is a filter value that excludes ids, or nil when there are none to exclude.
func notIn(ids []string) bson.D {
	if len(ids) == 0 {
		return nil
	}
	return bson.D{{Key: "$nin", Value: ids}}
}

func withNotIn(q bson.D, field string, ids []string) bson.D {
	if f := notIn(ids); f != nil {
		q = append(q, bson.E{Key: field, Value: f})
	}
	return q
}

// ExpiredExports implements retention.Store.
func (s *RetentionStore) ExpiredExports(ctx context.Context, tenantID string, cutoff time.Time, spareUsers []string, limit int) ([]retention.Export, error) {
	q := withNotIn(bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff.UTC()}}}}, "user_id", spareUsers)
	cur, err := s.exports.Find(ctx, q, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find expired exports: %w", err)
	}
	var docs []retentionExportDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find expired exports: %w", err)
	}
	out := make([]retention.Export, len(docs))
	for i, d := range docs {
		out[i] = retention.Export{ID: d.ID, UserID: d.UserID, ObjectKey: d.ObjectKey, CreatedAt: d.CreatedAt.UTC()}
	}
	return out, nil
}

// DeleteExport implements retention.Store.
func (s *RetentionStore) DeleteExport(ctx context.Context, tenantID, id string) error {
	if _, err := s.exports.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}}); err != nil {
		return fmt.Errorf("delete export: %w", err)
	}
	return nil
}

// DeleteSessions implements retention.Store.
func (s *RetentionStore) DeleteSessions(ctx context.Context, tenantID string, endedBefore, idleBefore time.Time, spareUsers []string, limit int) (int, error) {
	q := withNotIn(bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "revoked_at", Value: bson.D{{Key: "$lt", Value: endedBefore.UTC()}}}},
		bson.D{{Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "last_used_at", Value: bson.D{{Key: "$lt", Value: idleBefore.UTC()}}}},
	}}}, "user_id", spareUsers)
	cur, err := s.sessions.Find(ctx, q, options.Find().SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("find expired sessions: %w", err)
	}
	ids, err := decodeIDs(ctx, cur)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	// Tokens and spends first: a session is never left without its doc while tokens point at it.
	in := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "session_id", Value: bson.D{{Key: "$in", Value: ids}}}}
	if _, err := s.tokens.DeleteMany(ctx, in); err != nil {
		return 0, fmt.Errorf("delete refresh tokens: %w", err)
	}
	if _, err := s.spends.DeleteMany(ctx, in); err != nil {
		return 0, fmt.Errorf("delete refresh spends: %w", err)
	}
	res, err := s.sessions.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("delete sessions: %w", err)
	}
	return int(res.DeletedCount), nil
}
