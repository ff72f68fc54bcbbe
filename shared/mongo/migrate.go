package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/mongo"
)

// Migrate creates the collections and indexes every store needs. It is idempotent: run it at
// every start of `caas run` and after every deploy (the Migrate function).
func (c *Client) Migrate(ctx context.Context) error {
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"identity", c.migrateIdentity},
		{"mfa", c.migrateMFA},
		{"chat", c.migrateChat},
		{"idempotency", c.migrateIdempotency},
		{"keys", c.migrateKeys},
		{"audit", c.migrateAudit},
		{"gdpr", c.migrateGDPR},
		{"gdpr exports", c.migrateGDPRExports},
		{"gdpr erasures", c.migrateErasures},
		{"retention", c.migrateRetention},
		{"media", c.migrateMedia},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("migrate %s: %w", s.name, err)
		}
	}
	return nil
}

// ensureIndexes creates the given indexes on coll; an index that exists already is left alone.
func ensureIndexes(ctx context.Context, coll *mongo.Collection, models ...mongo.IndexModel) error {
	// One index per command: FerretDB v1 drops the connection when a createIndexes command
	// naming several indexes finds them existing already, which every Migrate after the first does.
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("indexes on %s: %w", coll.Name(), err)
		}
	}
	return nil
}
