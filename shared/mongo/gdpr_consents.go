package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/gdpr"
)

// ConsentsCollection holds consent records, in caas_compliance. Documents are inserted and
// never updated.
const ConsentsCollection = "consents"

// ConsentStore implements gdpr.ConsentStore on caas_compliance.consents.
type ConsentStore struct {
	coll *mongo.Collection
}

var _ gdpr.ConsentStore = (*ConsentStore)(nil)

// NewConsentStore returns the consent store on c's compliance database. Run c.Migrate first.
func NewConsentStore(c *Client) *ConsentStore {
	return &ConsentStore{coll: c.compliance.Collection(ConsentsCollection)}
}

// consentDoc is a document of caas_compliance.consents.
type consentDoc struct {
	ID            string    `bson:"_id"`
	TenantID      string    `bson:"tenant_id"`
	UserID        string    `bson:"user_id"`
	Purpose       string    `bson:"purpose"`
	PolicyVersion string    `bson:"policy_version"`
	Granted       bool      `bson:"granted"`
	Source        string    `bson:"source"`
	RecordedAt    time.Time `bson:"recorded_at"`
	RecordedBy    string    `bson:"recorded_by"`
}

func (d consentDoc) consent() gdpr.Consent {
	return gdpr.Consent{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, Purpose: d.Purpose,
		PolicyVersion: d.PolicyVersion, Granted: d.Granted, Source: d.Source,
		RecordedAt: d.RecordedAt.UTC(), RecordedBy: d.RecordedBy}
}

// AppendConsent implements gdpr.ConsentStore: the insert into the unique _id decides.
func (s *ConsentStore) AppendConsent(ctx context.Context, c gdpr.Consent) (gdpr.Consent, bool, error) {
	d := consentDoc{ID: c.ID, TenantID: c.TenantID, UserID: c.UserID, Purpose: c.Purpose,
		PolicyVersion: c.PolicyVersion, Granted: c.Granted, Source: c.Source,
		RecordedAt: c.RecordedAt.UTC().Truncate(time.Millisecond), RecordedBy: c.RecordedBy}
	_, err := s.coll.InsertOne(ctx, d)
	if err == nil {
		return d.consent(), true, nil
	}
	if !isDuplicateKey(err) {
		return gdpr.Consent{}, false, fmt.Errorf("insert consent: %w", err)
	}
	var held consentDoc
	err = s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "tenant_id", Value: c.TenantID}}).Decode(&held)
	if err != nil {
		return gdpr.Consent{}, false, fmt.Errorf("read consent: %w", err)
	}
	return held.consent(), false, nil
}

// consentFilter selects the tenant's user's records, of one purpose when purpose is not empty.
func consentFilter(tenantID, userID, purpose string) bson.D {
	f := bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}}
	if purpose != "" {
		f = append(f, bson.E{Key: "purpose", Value: purpose})
	}
	return f
}

// newestFirst orders records by recorded_at, then _id, descending: a total order.
var newestFirst = bson.D{{Key: "recorded_at", Value: -1}, {Key: "_id", Value: -1}}

// ListConsents implements gdpr.ConsentStore.
func (s *ConsentStore) ListConsents(ctx context.Context, tenantID, userID, purpose string, after gdpr.ConsentPosition, limit int) ([]gdpr.Consent, error) {
	f := consentFilter(tenantID, userID, purpose)
	if after.ID != "" {
		at := after.RecordedAt.UTC()
		f = append(f, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "recorded_at", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "recorded_at", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	cur, err := s.coll.Find(ctx, f, options.Find().SetSort(newestFirst).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	var docs []consentDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	out := make([]gdpr.Consent, len(docs))
	for i, d := range docs {
		out[i] = d.consent()
	}
	return out, nil
}

// CurrentConsents implements gdpr.ConsentStore. It reads the user's records newest first and
// keeps the first of each purpose: a user has few records, and the aggregation FerretDB v1
// serves has no "first per group" accumulator.
func (s *ConsentStore) CurrentConsents(ctx context.Context, tenantID, userID, purpose string) (map[string]gdpr.Consent, error) {
	cur, err := s.coll.Find(ctx, consentFilter(tenantID, userID, purpose), options.Find().SetSort(newestFirst))
	if err != nil {
		return nil, fmt.Errorf("current consents: %w", err)
	}
	defer cur.Close(ctx)
	out := map[string]gdpr.Consent{}
	for cur.Next(ctx) {
		var d consentDoc
		if err := cur.Decode(&d); err != nil {
			return nil, fmt.Errorf("current consents: %w", err)
		}
		if _, seen := out[d.Purpose]; !seen {
			out[d.Purpose] = d.consent()
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("current consents: %w", err)
	}
	return out, nil
}

// DeleteForUser implements gdpr.ConsentStore. Erasure calls it; no endpoint does.
func (s *ConsentStore) DeleteForUser(ctx context.Context, tenantID, userID string) (int64, error) {
	res, err := s.coll.DeleteMany(ctx, consentFilter(tenantID, userID, ""))
	if err != nil {
		return 0, fmt.Errorf("delete consents: %w", err)
	}
	return res.DeletedCount, nil
}

// migrateGDPR creates the consents collection and its index for a user's history.
func (c *Client) migrateGDPR(ctx context.Context) error {
	if err := ensureChatCollection(ctx, c.compliance, ConsentsCollection); err != nil {
		return err
	}
	return ensureIndexes(ctx, c.compliance.Collection(ConsentsCollection), mongo.IndexModel{
		Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}, {Key: "recorded_at", Value: -1}, {Key: "_id", Value: -1}},
		Options: options.Index().SetName("tenant_user_time"),
	})
}
