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
	"caas.dev/shared/tenant"
)

// auditOutboxDoc is a document of caas_compliance.audit_outbox: an audit event (its JSON wire
// form, audit.Event) a function could not hand to Kafka. _id is the record id; record ids
// begin with their time, so _id order is oldest first.
type auditOutboxDoc struct {
	ID        string    `bson:"_id"`
	Event     string    `bson:"event"`
	CreatedAt time.Time `bson:"created_at"`
}

// OutboxEntry is one event waiting in the audit outbox.
type OutboxEntry struct {
	ID    string
	Event []byte
}

// AuditOutbox keeps audit events until AuditOutboxDrain appends them to their chain. Entries
// are only inserted and deleted, never updated.
type AuditOutbox struct {
	coll *mongo.Collection
}

// AuditOutbox returns the audit outbox.
func (c *Client) AuditOutbox() *AuditOutbox {
	return &AuditOutbox{coll: c.compliance.Collection(AuditOutboxCollection)}
}

// Insert stores the event with id. An id already present is left as it is (no error): the
// event it holds is the same one.
func (o *AuditOutbox) Insert(ctx context.Context, id string, event []byte) error {
	d := auditOutboxDoc{ID: id, Event: string(event), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	if _, err := o.coll.InsertOne(ctx, d); err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("insert audit outbox entry: %w", err)
	}
	return nil
}

// Oldest returns up to limit entries, oldest first.
func (o *AuditOutbox) Oldest(ctx context.Context, limit int) ([]OutboxEntry, error) {
	cur, err := o.coll.Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("read audit outbox: %w", err)
	}
	defer cur.Close(ctx)
	var out []OutboxEntry
	for cur.Next(ctx) {
		var d auditOutboxDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("read audit outbox: %w", err)
		}
		out = append(out, OutboxEntry{ID: d.ID, Event: []byte(d.Event)})
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read audit outbox: %w", err)
	}
	return out, nil
}

// Delete removes the entries with the given ids and returns how many it removed.
func (o *AuditOutbox) Delete(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := o.coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return 0, fmt.Errorf("delete audit outbox entries: %w", err)
	}
	return int(res.DeletedCount), nil
}

// Count returns how many entries wait.
func (o *AuditOutbox) Count(ctx context.Context) (int64, error) {
	n, err := o.coll.CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("count audit outbox: %w", err)
	}
	return n, nil
}

var _ audit.Tenants = (*TenantStore)(nil)

// TenantExists implements audit.Tenants: whether the tenant id names a tenant.
func (s *TenantStore) TenantExists(ctx context.Context, tenantID string) (bool, error) {
	_, err := s.TenantByID(ctx, tenantID)
	if errors.Is(err, tenant.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
