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

// AuditTrimsCollection holds, per tenant (_id the tenant id), the seq below which retention
// deleted the tenant's audit records: a checkpoint's seq, so verification starts there.
const AuditTrimsCollection = "audit_trims"

// auditTrimDoc is a document of caas_compliance.audit_trims.
type auditTrimDoc struct {
	ID        string    `bson:"_id"`
	BelowSeq  int64     `bson:"below_seq"`
	UpdatedAt time.Time `bson:"updated_at"`
}

var _ audit.Trimmed = (*AuditStore)(nil)

// Floor implements audit.Trimmed: the lowest seq the tenant's chain still holds by design (1
// when retention never deleted any of it).
func (s *AuditStore) Floor(ctx context.Context, tenantID string) (int64, error) {
	return auditFloor(ctx, s.records.Database().Collection(AuditTrimsCollection), tenantID)
}

func auditFloor(ctx context.Context, trims *mongo.Collection, tenantID string) (int64, error) {
	var d auditTrimDoc
	err := trims.FindOne(ctx, bson.D{{Key: "_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read audit floor: %w", err)
	}
	return max(d.BelowSeq, 1), nil
}

// AuditTrimPoint implements retention.Store.
func (s *RetentionStore) AuditTrimPoint(ctx context.Context, tenantID string, cutoff time.Time) (int64, error) {
	floor, err := auditFloor(ctx, s.trims, tenantID)
	if err != nil {
		return 0, err
	}
	// The first record from the floor that is not past the period bounds what may go.
	var young auditRecordDoc
	err = s.audit.records.FindOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID},
		{Key: "seq", Value: bson.D{{Key: "$gte", Value: floor}}}, {Key: "time", Value: bson.D{{Key: "$gte", Value: cutoff.UTC()}}}},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: 1}}).SetProjection(bson.D{{Key: "seq", Value: 1}})).Decode(&young)
	limit := young.Seq
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		head, err := s.audit.Head(ctx, tenantID)
		if errors.Is(err, audit.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		limit = head.Seq
	case err != nil:
		return 0, fmt.Errorf("find audit records in their period: %w", err)
	}
	cp, err := s.audit.LastCheckpoint(ctx, tenantID, limit)
	if errors.Is(err, audit.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if cp.Seq <= floor {
		return 0, nil
	}
	return cp.Seq, nil
}

// TrimAudit implements retention.Store. The floor is raised before any record goes, so a
// verification that runs meanwhile starts at the checkpoint and never sees a gap.
func (s *RetentionStore) TrimAudit(ctx context.Context, tenantID string, belowSeq int64, limit int) (int, error) {
	floor, err := auditFloor(ctx, s.trims, tenantID)
	if err != nil {
		return 0, err
	}
	if belowSeq > floor {
		_, err := s.trims.ReplaceOne(ctx, bson.D{{Key: "_id", Value: tenantID}},
			auditTrimDoc{ID: tenantID, BelowSeq: belowSeq, UpdatedAt: time.Now().UTC()}, options.Replace().SetUpsert(true))
		if err != nil {
			return 0, fmt.Errorf("store audit floor: %w", err)
		}
	}
	cur, err := s.audit.records.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "seq", Value: bson.D{{Key: "$lt", Value: belowSeq}}}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(int64(limit)).SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("find expired audit records: %w", err)
	}
	ids, err := decodeIDs(ctx, cur)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	res, err := s.audit.records.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("delete expired audit records: %w", err)
	}
	return int(res.DeletedCount), nil
}
