package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Collections of the audit trail, in caas_compliance.
const (
	// AuditRecordsCollection holds the tenants' hash-chained records, _id tenant_id|seq.
	AuditRecordsCollection = "audit_records"
	// AuditCheckpointsCollection holds the signed checkpoints, _id tenant_id|seq.
	AuditCheckpointsCollection = "audit_checkpoints"
	// AuditKeysCollection holds each tenant's sealed pseudonym and checkpoint keys,
	// _id tenant_id|purpose.
	AuditKeysCollection = "audit_keys"
	// AuditPseudonymsCollection links pseudonyms to users, apart from the records so erasure
	// deletes a link without touching the chain; _id tenant_id|pseudonym.
	AuditPseudonymsCollection = "audit_pseudonyms"
)

// migrateAudit creates the audit collections and indexes. The unique (tenant_id, seq) index
// settles which appender takes a seq; the unique (tenant_id, record_id) one stores a retried
// record once.
func (c *Client) migrateAudit(ctx context.Context) error {
	steps := []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{c.compliance.Collection(AuditRecordsCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "seq", Value: 1}},
				Options: options.Index().SetName("tenant_seq").SetUnique(true)},
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "record_id", Value: 1}},
				Options: options.Index().SetName("tenant_record_id").SetUnique(true)},
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "time", Value: 1}},
				Options: options.Index().SetName("tenant_time")},
		}},
		{c.compliance.Collection(AuditCheckpointsCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "seq", Value: 1}},
				Options: options.Index().SetName("tenant_seq").SetUnique(true)},
		}},
		{c.compliance.Collection(AuditKeysCollection), nil},
		{c.compliance.Collection(AuditPseudonymsCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}},
				Options: options.Index().SetName("tenant_user")},
		}},
	}
	for _, s := range steps {
		if err := ensureIdentityCollection(ctx, s.coll); err != nil {
			return err
		}
		if err := ensureIndexes(ctx, s.coll, s.models...); err != nil {
			return err
		}
	}
	return nil
}
