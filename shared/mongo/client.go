// Package mongo implements the domain stores on MongoDB through the official driver. It keeps
// to the subset of MongoDB that FerretDB v1 also serves correctly (no transactions, no TTL
// indexes, no $lookup, no positional updates, uniqueness enforced at insert): see DESIGN §4.
//
// Platform data lives in the caas_platform database, key material in caas_crypto and
// compliance data (audit trail, consents, exports) in caas_compliance, so code that reads chat
// data never holds a handle on keys or audit records.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
)

// Database names.
const (
	PlatformDB   = "caas_platform"
	CryptoDB     = "caas_crypto"
	ComplianceDB = "caas_compliance"
)

// Client is an open connection to MongoDB and the databases the platform uses.
type Client struct {
	client     *mongo.Client
	platform   *mongo.Database
	crypto     *mongo.Database
	compliance *mongo.Database
}

// Open connects to the MongoDB at uri. It fails fast (within a few seconds) when no server
// answers, so a cold start with a bad URI reports it instead of hanging until the timeout.
func Open(ctx context.Context, uri string) (*Client, error) {
	return OpenWithPrefix(ctx, uri, "")
}

// OpenWithPrefix is Open with database names prefixed by prefix, so tests can run isolated
// from each other on one server.
func OpenWithPrefix(ctx context.Context, uri, prefix string) (*Client, error) {
	if uri == "" {
		return nil, errors.New("open mongo: MONGO_URI is empty")
	}
	opts := options.Client().ApplyURI(uri).
		SetConnectTimeout(5 * time.Second).
		SetServerSelectionTimeout(5 * time.Second).
		SetTimeout(10 * time.Second)
	c, err := mongo.Connect(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open mongo: %w", err)
	}
	return &Client{
		client:     c,
		platform:   c.Database(prefix + PlatformDB),
		crypto:     c.Database(prefix + CryptoDB),
		compliance: c.Database(prefix + ComplianceDB),
	}, nil
}

// Close disconnects from the server.
func (c *Client) Close(ctx context.Context) error { return c.client.Disconnect(ctx) }

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.client.Ping(ctx, readpref.Primary())
}

// Drop deletes the client's databases. Tests use it to clean up.
func (c *Client) Drop(ctx context.Context) error {
	for _, db := range []*mongo.Database{c.platform, c.crypto, c.compliance} {
		if err := db.Drop(ctx); err != nil {
			return err
		}
	}
	return nil
}

// isDuplicateKey reports whether err is a unique index violation.
func isDuplicateKey(err error) bool {
	return mongo.IsDuplicateKeyError(err)
}
