package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/audit"
)

// auditRecordDoc is a document of caas_compliance.audit_records.
type auditRecordDoc struct {
	ID           string            `bson:"_id"`
	TenantID     string            `bson:"tenant_id"`
	Seq          int64             `bson:"seq"`
	RecordID     string            `bson:"record_id"`
	Time         time.Time         `bson:"time"`
	ActorType    string            `bson:"actor_type"`
	ActorID      string            `bson:"actor_id"`
	Action       string            `bson:"action"`
	Resource     string            `bson:"resource"`
	Outcome      string            `bson:"outcome"`
	Status       int               `bson:"status"`
	IP           string            `bson:"ip"`
	UserAgent    string            `bson:"user_agent"`
	LatencyMS    int64             `bson:"latency_ms"`
	RequestID    string            `bson:"request_id"`
	Details      map[string]string `bson:"details,omitempty"`
	PreviousHash string            `bson:"previous_hash"`
	Hash         string            `bson:"hash"`
}

// auditCheckpointDoc is a document of caas_compliance.audit_checkpoints.
type auditCheckpointDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	Seq       int64     `bson:"seq"`
	Hash      string    `bson:"hash"`
	Time      time.Time `bson:"time"`
	KeyID     string    `bson:"key_id"`
	Signature string    `bson:"signature"`
}

// auditKeyDoc is a document of caas_compliance.audit_keys.
type auditKeyDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	Purpose   string    `bson:"purpose"`
	KeyID     string    `bson:"key_id"`
	Public    []byte    `bson:"public,omitempty"`
	Sealed    string    `bson:"sealed"`
	CreatedAt time.Time `bson:"created_at"`
}

// auditLinkDoc is a document of caas_compliance.audit_pseudonyms.
type auditLinkDoc struct {
	ID        string    `bson:"_id"`
	TenantID  string    `bson:"tenant_id"`
	Pseudonym string    `bson:"pseudonym"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
}

// AuditStore implements audit.Store on caas_compliance.
type AuditStore struct {
	records     *mongo.Collection
	checkpoints *mongo.Collection
	keys        *mongo.Collection
	links       *mongo.Collection
}

// Audit returns the audit store.
func (c *Client) Audit() *AuditStore {
	return &AuditStore{
		records:     c.compliance.Collection(AuditRecordsCollection),
		checkpoints: c.compliance.Collection(AuditCheckpointsCollection),
		keys:        c.compliance.Collection(AuditKeysCollection),
		links:       c.compliance.Collection(AuditPseudonymsCollection),
	}
}

var _ audit.Store = (*AuditStore)(nil)

// seqID is a record's or checkpoint's _id; the zero padding keeps _ids in seq order.
func seqID(tenantID string, seq int64) string { return fmt.Sprintf("%s|%016d", tenantID, seq) }

func toRecordDoc(r audit.Record) auditRecordDoc {
	return auditRecordDoc{
		ID: seqID(r.TenantID, r.Seq), TenantID: r.TenantID, Seq: r.Seq, RecordID: r.ID,
		Time: r.Time.UTC().Truncate(time.Millisecond), ActorType: r.Actor.Type, ActorID: r.Actor.ID,
		Action: r.Action, Resource: r.Resource, Outcome: r.Outcome, Status: r.Status, IP: r.IP,
		UserAgent: r.UserAgent, LatencyMS: r.LatencyMS, RequestID: r.RequestID, Details: r.Details,
		PreviousHash: r.PreviousHash, Hash: r.Hash,
	}
}

func (d auditRecordDoc) record() audit.Record {
	return audit.Record{
		Input: audit.Input{
			ID: d.RecordID, Time: d.Time.UTC(), Actor: audit.Actor{Type: d.ActorType, ID: d.ActorID},
			Action: d.Action, Resource: d.Resource, Outcome: d.Outcome, Status: d.Status, IP: d.IP,
			UserAgent: d.UserAgent, LatencyMS: d.LatencyMS, RequestID: d.RequestID, Details: d.Details,
		},
		TenantID: d.TenantID, Seq: d.Seq, PreviousHash: d.PreviousHash, Hash: d.Hash,
	}
}

// Head returns the tenant's record with the highest seq.
func (s *AuditStore) Head(ctx context.Context, tenantID string) (audit.Record, error) {
	var d auditRecordDoc
	err := s.records.FindOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return audit.Record{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit head: %w", err)
	}
	return d.record(), nil
}

// ExistingIDs returns which record ids the tenant's chain holds.
func (s *AuditStore) ExistingIDs(ctx context.Context, tenantID string, ids []string) (map[string]bool, error) {
	out := make(map[string]bool)
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := s.records.Find(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "record_id", Value: bson.D{{Key: "$in", Value: ids}}}},
		options.Find().SetProjection(bson.D{{Key: "record_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("audit record ids: %w", err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var d struct {
			RecordID string `bson:"record_id"`
		}
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("audit record ids: %w", err)
		}
		out[d.RecordID] = true
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("audit record ids: %w", err)
	}
	return out, nil
}

// Record returns the tenant's record at seq, by _id.
func (s *AuditStore) Record(ctx context.Context, tenantID string, seq int64) (audit.Record, error) {
	var d auditRecordDoc
	err := s.records.FindOne(ctx, bson.D{{Key: "_id", Value: seqID(tenantID, seq)}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return audit.Record{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit record: %w", err)
	}
	if d.TenantID != tenantID {
		return audit.Record{}, audit.ErrNotFound
	}
	return d.record(), nil
}

// Insert stores records in order with one ordered insert, which stops at the first
// duplicate key; the index of the failed document is how many were stored before it.
func (s *AuditStore) Insert(ctx context.Context, records []audit.Record) (int, error) {
	docs := make([]any, len(records))
	for i, r := range records {
		docs[i] = toRecordDoc(r)
	}
	_, err := s.records.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true))
	if err == nil {
		return len(records), nil
	}
	var bw mongo.BulkWriteException
	if errors.As(err, &bw) && len(bw.WriteErrors) > 0 && isDuplicateKey(err) {
		return bw.WriteErrors[0].Index, audit.ErrConflict
	}
	if isDuplicateKey(err) {
		return 0, audit.ErrConflict
	}
	return 0, fmt.Errorf("insert audit records: %w", err)
}

// Records returns the tenant's records with seq in [fromSeq, toSeq], ascending.
func (s *AuditStore) Records(ctx context.Context, tenantID string, fromSeq, toSeq int64, limit int) ([]audit.Record, error) {
	return s.find(ctx, bson.D{
		{Key: "tenant_id", Value: tenantID},
		{Key: "seq", Value: bson.D{{Key: "$gte", Value: fromSeq}, {Key: "$lte", Value: toSeq}}},
	}, 1, limit)
}

// Query returns the tenant's records matching f below beforeSeq, highest seq first.
func (s *AuditStore) Query(ctx context.Context, tenantID string, f audit.Filter, beforeSeq int64, limit int) ([]audit.Record, error) {
	q := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: beforeSeq}}}}
	tr := bson.D{}
	if !f.From.IsZero() {
		tr = append(tr, bson.E{Key: "$gte", Value: f.From.UTC()})
	}
	if !f.To.IsZero() {
		tr = append(tr, bson.E{Key: "$lt", Value: f.To.UTC()})
	}
	if len(tr) > 0 {
		q = append(q, bson.E{Key: "time", Value: tr})
	}
	for _, m := range []struct{ key, val string }{{"actor_id", f.ActorID}, {"action", f.Action}, {"resource", f.Resource}} {
		if m.val != "" {
			q = append(q, bson.E{Key: m.key, Value: m.val})
		}
	}
	return s.find(ctx, q, -1, limit)
}

func (s *AuditStore) find(ctx context.Context, q bson.D, order, limit int) ([]audit.Record, error) {
	cur, err := s.records.Find(ctx, q, options.Find().SetSort(bson.D{{Key: "seq", Value: order}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find audit records: %w", err)
	}
	var docs []auditRecordDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("find audit records: %w", err)
	}
	out := make([]audit.Record, len(docs))
	for i, d := range docs {
		out[i] = d.record()
	}
	return out, nil
}

// InsertCheckpoint stores c under its (tenant, seq).
func (s *AuditStore) InsertCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	_, err := s.checkpoints.InsertOne(ctx, auditCheckpointDoc{
		ID: seqID(c.TenantID, c.Seq), TenantID: c.TenantID, Seq: c.Seq, Hash: c.Hash,
		Time: c.Time.UTC().Truncate(time.Millisecond), KeyID: c.KeyID, Signature: c.Signature,
	})
	if isDuplicateKey(err) {
		return audit.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("insert audit checkpoint: %w", err)
	}
	return nil
}

func (d auditCheckpointDoc) checkpoint() audit.Checkpoint {
	return audit.Checkpoint{TenantID: d.TenantID, Seq: d.Seq, Hash: d.Hash, Time: d.Time.UTC(), KeyID: d.KeyID, Signature: d.Signature}
}

// LastCheckpoint returns the tenant's checkpoint with the highest seq <= atOrBefore.
func (s *AuditStore) LastCheckpoint(ctx context.Context, tenantID string, atOrBefore int64) (audit.Checkpoint, error) {
	var d auditCheckpointDoc
	err := s.checkpoints.FindOne(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "seq", Value: bson.D{{Key: "$lte", Value: atOrBefore}}}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return audit.Checkpoint{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("audit checkpoint: %w", err)
	}
	return d.checkpoint(), nil
}

// Checkpoints returns the tenant's checkpoints with seq in [fromSeq, toSeq], ascending.
func (s *AuditStore) Checkpoints(ctx context.Context, tenantID string, fromSeq, toSeq int64) ([]audit.Checkpoint, error) {
	cur, err := s.checkpoints.Find(ctx, bson.D{
		{Key: "tenant_id", Value: tenantID},
		{Key: "seq", Value: bson.D{{Key: "$gte", Value: fromSeq}, {Key: "$lte", Value: toSeq}}},
	}, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	var docs []auditCheckpointDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	out := make([]audit.Checkpoint, len(docs))
	for i, d := range docs {
		out[i] = d.checkpoint()
	}
	return out, nil
}

// InsertSealed stores the tenant's sealed secret for its purpose; the first one wins.
func (s *AuditStore) InsertSealed(ctx context.Context, k audit.Sealed) error {
	_, err := s.keys.InsertOne(ctx, auditKeyDoc{
		ID: k.TenantID + "|" + k.Purpose, TenantID: k.TenantID, Purpose: k.Purpose, KeyID: k.KeyID,
		Public: k.Public, Sealed: k.Sealed, CreatedAt: k.CreatedAt.UTC().Truncate(time.Millisecond),
	})
	if isDuplicateKey(err) {
		return audit.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("insert audit key: %w", err)
	}
	return nil
}

// Sealed returns the tenant's sealed secret for purpose.
func (s *AuditStore) Sealed(ctx context.Context, tenantID, purpose string) (audit.Sealed, error) {
	var d auditKeyDoc
	err := s.keys.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID + "|" + purpose}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return audit.Sealed{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.Sealed{}, fmt.Errorf("audit key: %w", err)
	}
	return audit.Sealed{TenantID: d.TenantID, Purpose: d.Purpose, KeyID: d.KeyID, Public: d.Public, Sealed: d.Sealed, CreatedAt: d.CreatedAt.UTC()}, nil
}

// InsertLink stores a pseudonym link; an existing one is kept. For a user marked forgotten it
// deletes the link again and returns audit.ErrForgotten.
func (s *AuditStore) InsertLink(ctx context.Context, l audit.PseudonymLink) error {
	_, err := s.links.InsertOne(ctx, auditLinkDoc{
		ID: l.TenantID + "|" + l.Pseudonym, TenantID: l.TenantID, Pseudonym: l.Pseudonym, UserID: l.UserID,
		CreatedAt: l.CreatedAt.UTC().Truncate(time.Millisecond),
	})
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("insert pseudonym link: %w", err)
	}
	// Checked after the insert, so that an erasure running at the same time either sees this
	// link and deletes it or is seen here (see markForgotten).
	forgotten, err := s.dropLinkIfForgotten(ctx, l)
	if err != nil {
		return err
	}
	if forgotten {
		return audit.ErrForgotten
	}
	return nil
}

// Link returns the link of the tenant's pseudonym.
func (s *AuditStore) Link(ctx context.Context, tenantID, pseudonym string) (audit.PseudonymLink, error) {
	var d auditLinkDoc
	err := s.links.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID + "|" + pseudonym}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return audit.PseudonymLink{}, audit.ErrNotFound
	}
	if err != nil {
		return audit.PseudonymLink{}, fmt.Errorf("pseudonym link: %w", err)
	}
	return audit.PseudonymLink{TenantID: d.TenantID, Pseudonym: d.Pseudonym, UserID: d.UserID, CreatedAt: d.CreatedAt.UTC()}, nil
}

// DeleteLinks deletes the tenant's links to the user, and marks the user forgotten so that no
// link to them is stored again (InsertLink).
func (s *AuditStore) DeleteLinks(ctx context.Context, tenantID, userID string) (int, error) {
	if err := s.markForgotten(ctx, tenantID, userID); err != nil {
		return 0, err
	}
	res, err := s.links.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return 0, fmt.Errorf("delete pseudonym links: %w", err)
	}
	return int(res.DeletedCount), nil
}
