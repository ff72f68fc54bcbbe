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
	"caas.dev/shared/gdpr"
)

// ErasureStore implements gdpr.ErasureStore on caas_compliance.gdpr_erasures (the receipts)
// and gdpr.SubjectData on the collections that hold a user's data.
type ErasureStore struct {
	receipts *mongo.Collection
	users    *mongo.Collection
	sessions *SessionStore
	mfa      *MFAStore
	exports  *mongo.Collection
	runs     *mongo.Collection
	consents *mongo.Collection
	members  *mongo.Collection
	messages *mongo.Collection
}

// erasureRunsCollection holds the claims of running erasures, in caas_compliance: one document
// per (tenant, user) while a run works on the user, keyed by _id so that the insert settles
// concurrent requests.
const erasureRunsCollection = "gdpr_erasure_runs"

var (
	_ gdpr.ErasureStore = (*ErasureStore)(nil)
	_ gdpr.SubjectData  = (*ErasureStore)(nil)
)

// NewErasureStore returns the erasure store on c. Run c.Migrate first.
func NewErasureStore(c *Client) *ErasureStore {
	return &ErasureStore{
		receipts: c.compliance.Collection(ErasuresCollection),
		users:    c.platform.Collection(UsersCollection),
		sessions: c.Sessions(),
		mfa:      c.MFA(),
		exports:  c.compliance.Collection(ExportsCollection),
		runs:     c.compliance.Collection(erasureRunsCollection),
		consents: c.compliance.Collection(ConsentsCollection),
		members:  c.platform.Collection(membersColl),
		messages: c.platform.Collection(messagesColl),
	}
}

// erasureStepDoc is one step of a receipt.
type erasureStepDoc struct {
	Count   int64     `bson:"count"`
	Outcome string    `bson:"outcome"`
	At      time.Time `bson:"at"`
}

// erasureDoc is a document of caas_compliance.gdpr_erasures. The unique (tenant_id, user_id)
// index makes one receipt per user: the insert that claims it settles concurrent requests.
type erasureDoc struct {
	ID          string                    `bson:"_id"`
	TenantID    string                    `bson:"tenant_id"`
	UserID      string                    `bson:"user_id"`
	RequestedBy string                    `bson:"requested_by"`
	RequestedAt time.Time                 `bson:"requested_at"`
	Status      string                    `bson:"status"`
	CompletedAt *time.Time                `bson:"completed_at,omitempty"`
	Pseudonym   string                    `bson:"audit_pseudonym,omitempty"`
	Steps       map[string]erasureStepDoc `bson:"steps"`
}

func (d erasureDoc) erasure() gdpr.Erasure {
	e := gdpr.Erasure{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, RequestedBy: d.RequestedBy,
		RequestedAt: d.RequestedAt.UTC(), Status: d.Status, Pseudonym: d.Pseudonym,
		Steps: map[string]gdpr.ErasureStep{}}
	if d.CompletedAt != nil {
		e.CompletedAt = d.CompletedAt.UTC()
	}
	for name, s := range d.Steps {
		e.Steps[name] = gdpr.ErasureStep{Name: name, Count: s.Count, Outcome: s.Outcome, At: s.At.UTC()}
	}
	return e
}

// ClaimErasure implements gdpr.ErasureStore: the insert into the unique (tenant_id, user_id)
// index decides.
func (s *ErasureStore) ClaimErasure(ctx context.Context, e gdpr.Erasure) (gdpr.Erasure, bool, error) {
	d := erasureDoc{ID: e.ID, TenantID: e.TenantID, UserID: e.UserID, RequestedBy: e.RequestedBy,
		RequestedAt: e.RequestedAt.UTC().Truncate(time.Millisecond), Status: gdpr.ErasureInProgress,
		Steps: map[string]erasureStepDoc{}}
	_, err := s.receipts.InsertOne(ctx, d)
	if err == nil {
		return d.erasure(), true, nil
	}
	if !isDuplicateKey(err) {
		return gdpr.Erasure{}, false, fmt.Errorf("insert erasure: %w", err)
	}
	held, err := s.ErasureOfUser(ctx, e.TenantID, e.UserID)
	if errors.Is(err, gdpr.ErrErasureNotFound) {
		// The id was taken, by a receipt of another user or tenant.
		return gdpr.Erasure{}, false, fmt.Errorf("insert erasure: id %s is taken", e.ID)
	}
	return held, false, err
}

func (s *ErasureStore) findErasure(ctx context.Context, f bson.D) (gdpr.Erasure, error) {
	var d erasureDoc
	err := s.receipts.FindOne(ctx, f).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return gdpr.Erasure{}, gdpr.ErrErasureNotFound
	}
	if err != nil {
		return gdpr.Erasure{}, fmt.Errorf("find erasure: %w", err)
	}
	return d.erasure(), nil
}

// ErasureByID implements gdpr.ErasureStore.
func (s *ErasureStore) ErasureByID(ctx context.Context, tenantID, id string) (gdpr.Erasure, error) {
	return s.findErasure(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}})
}

// ErasureOfUser implements gdpr.ErasureStore.
func (s *ErasureStore) ErasureOfUser(ctx context.Context, tenantID, userID string) (gdpr.Erasure, error) {
	return s.findErasure(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}})
}

// erasureRunDoc claims the run of a user's erasure.
type erasureRunDoc struct {
	ID        string    `bson:"_id"` // tenant_id|user_id
	TenantID  string    `bson:"tenant_id"`
	UserID    string    `bson:"user_id"`
	Token     string    `bson:"token"`
	ClaimedAt time.Time `bson:"claimed_at"`
}

// ClaimRun implements gdpr.ErasureStore: the insert into the _id index decides. A claim older
// than staleAfter (its run died) is deleted, matched by its token so that a newer claim is
// never deleted, and the insert is tried once more.
func (s *ErasureStore) ClaimRun(ctx context.Context, tenantID, userID, token string, now time.Time, staleAfter time.Duration) (bool, error) {
	d := erasureRunDoc{ID: tenantID + "|" + userID, TenantID: tenantID, UserID: userID, Token: token,
		ClaimedAt: now.UTC().Truncate(time.Millisecond)}
	for attempt := 0; ; attempt++ {
		_, err := s.runs.InsertOne(ctx, d)
		if err == nil {
			return true, nil
		}
		if !isDuplicateKey(err) {
			return false, fmt.Errorf("claim erasure run: %w", err)
		}
		if attempt > 0 {
			return false, nil
		}
		var held erasureRunDoc
		err = s.runs.FindOne(ctx, bson.D{{Key: "_id", Value: d.ID}}).Decode(&held)
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("read erasure run: %w", err)
		}
		if now.Sub(held.ClaimedAt) < staleAfter {
			return false, nil
		}
		if _, err := s.runs.DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}, {Key: "token", Value: held.Token}}); err != nil {
			return false, fmt.Errorf("take over erasure run: %w", err)
		}
	}
}

// ReleaseRun implements gdpr.ErasureStore: it deletes the claim if it still has the token.
func (s *ErasureStore) ReleaseRun(ctx context.Context, tenantID, userID, token string) error {
	if _, err := s.runs.DeleteOne(ctx, bson.D{{Key: "_id", Value: tenantID + "|" + userID}, {Key: "token", Value: token}}); err != nil {
		return fmt.Errorf("release erasure run: %w", err)
	}
	return nil
}

// RecordStep implements gdpr.ErasureStore. One field of one document is set, and only when the
// step is not recorded yet: a step once recorded keeps its counts.
func (s *ErasureStore) RecordStep(ctx context.Context, tenantID, id string, st gdpr.ErasureStep) error {
	_, err := s.receipts.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID},
		{Key: "steps." + st.Name, Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "steps." + st.Name, Value: erasureStepDoc{
			Count: st.Count, Outcome: st.Outcome, At: st.At.UTC().Truncate(time.Millisecond)}}}}})
	if err != nil {
		return fmt.Errorf("record erasure step %s: %w", st.Name, err)
	}
	return nil
}

// CompleteErasure implements gdpr.ErasureStore.
func (s *ErasureStore) CompleteErasure(ctx context.Context, tenantID, id, pseudonymState string, at time.Time) error {
	_, err := s.receipts.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: tenantID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: gdpr.ErasureCompleted},
			{Key: "completed_at", Value: at.UTC().Truncate(time.Millisecond)},
			{Key: "audit_pseudonym", Value: pseudonymState},
		}}})
	if err != nil {
		return fmt.Errorf("complete erasure: %w", err)
	}
	return nil
}

// byTenantUser selects the documents of the tenant's user.
func byTenantUser(tenantID, userID string) bson.D {
	return bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}}
}

// EndSessions implements gdpr.SubjectData: it ends every live session of the user (so the
// authorizer and refresh refuse them even if what follows fails), deletes the user's refresh
// tokens, the spends of their sessions, and the sessions themselves (they hold IP addresses and
// user agents).
func (s *ErasureStore) EndSessions(ctx context.Context, tenantID, userID string, at time.Time) (sessions, tokens int64, err error) {
	if _, err := s.sessions.EndUserSessions(ctx, tenantID, userID, at); err != nil {
		return 0, 0, err
	}
	res, err := s.sessions.tokens.DeleteMany(ctx, byTenantUser(tenantID, userID))
	if err != nil {
		return 0, 0, fmt.Errorf("delete refresh tokens: %w", err)
	}
	tokens = res.DeletedCount
	var docs []struct {
		ID string `bson:"_id"`
	}
	cur, err := s.sessions.coll.Find(ctx, byTenantUser(tenantID, userID), options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, tokens, fmt.Errorf("find sessions: %w", err)
	}
	if err := cur.All(ctx, &docs); err != nil {
		return 0, tokens, fmt.Errorf("find sessions: %w", err)
	}
	if len(docs) > 0 {
		ids := make(bson.A, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}
		if _, err := s.sessions.spends.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "session_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			return 0, tokens, fmt.Errorf("delete refresh spends: %w", err)
		}
	}
	res, err = s.sessions.coll.DeleteMany(ctx, byTenantUser(tenantID, userID))
	if err != nil {
		return 0, tokens, fmt.Errorf("delete sessions: %w", err)
	}
	return res.DeletedCount, tokens, nil
}

// DeleteMFA implements gdpr.SubjectData: the pending and active factors (their sealed TOTP
// seeds), recovery code hashes, spent codes and open login challenges of the user.
func (s *ErasureStore) DeleteMFA(ctx context.Context, tenantID, userID string) (int64, error) {
	var n int64
	for _, c := range []*mongo.Collection{s.mfa.pending, s.mfa.factors, s.mfa.recovery, s.mfa.spent, s.mfa.challenges} {
		res, err := c.DeleteMany(ctx, byTenantUser(tenantID, userID))
		if err != nil {
			return n, fmt.Errorf("delete %s: %w", c.Name(), err)
		}
		n += res.DeletedCount
	}
	return n, nil
}

// DeleteProfile implements gdpr.SubjectData: the user document goes (email, display name,
// password hash, role), which frees the email for a new registration.
func (s *ErasureStore) DeleteProfile(ctx context.Context, tenantID, userID string) (int64, error) {
	res, err := s.users.DeleteOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "tenant_id", Value: tenantID}})
	if err != nil {
		return 0, fmt.Errorf("delete user: %w", err)
	}
	return res.DeletedCount, nil
}

// DeleteExportJobs implements gdpr.SubjectData.
// The user's in-flight marker goes first and is not counted: the receipt counts export jobs.
func (s *ErasureStore) DeleteExportJobs(ctx context.Context, tenantID, userID string) (int64, error) {
	if _, err := s.exports.DeleteOne(ctx, bson.D{{Key: "_id", Value: inFlightID(tenantID, userID)}}); err != nil {
		return 0, fmt.Errorf("delete export in-flight marker: %w", err)
	}
	res, err := s.exports.DeleteMany(ctx, byTenantUser(tenantID, userID))
	if err != nil {
		return 0, fmt.Errorf("delete export jobs: %w", err)
	}
	return res.DeletedCount, nil
}

// CountConsents implements gdpr.SubjectData.
func (s *ErasureStore) CountConsents(ctx context.Context, tenantID, userID string) (int64, error) {
	n, err := s.consents.CountDocuments(ctx, byTenantUser(tenantID, userID))
	if err != nil {
		return 0, fmt.Errorf("count consents: %w", err)
	}
	return n, nil
}

// InvolvedIn implements gdpr.SubjectData: membership, or a message sent, in one of the
// tenant's conversations.
func (s *ErasureStore) InvolvedIn(ctx context.Context, tenantID, userID string, conversationIDs []string) (bool, error) {
	if len(conversationIDs) == 0 {
		return false, nil
	}
	in := bson.D{{Key: "$in", Value: conversationIDs}}
	n, err := s.members.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenantID},
		{Key: "conversation_id", Value: in}, {Key: "user_id", Value: userID}}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("find memberships: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	n, err = s.messages.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenantID},
		{Key: "conversation_id", Value: in}, {Key: "sender_id", Value: userID}}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("find sent messages: %w", err)
	}
	return n > 0, nil
}

// migrateErasures creates the receipts collection and its unique (tenant_id, user_id) index,
// and the run claims collection.
func (c *Client) migrateErasures(ctx context.Context) error {
	if err := ensureChatCollection(ctx, c.compliance, erasureRunsCollection); err != nil {
		return err
	}
	if err := ensureChatCollection(ctx, c.compliance, ErasuresCollection); err != nil {
		return err
	}
	return ensureIndexes(ctx, c.compliance.Collection(ErasuresCollection), mongo.IndexModel{
		Keys:    bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}},
		Options: options.Index().SetName("tenant_user").SetUnique(true),
	})
}

// forgottenID is the _id of the marker, in the pseudonym links collection, of a user whose
// links erasure deleted. The marker has no user_id field, so DeleteLinks leaves it, and no
// "tenant|psn_…" link id can equal it.
func forgottenID(tenantID, userID string) string { return "forgotten|" + tenantID + "|" + userID }

// forgottenDoc marks a user forgotten by the audit trail.
type forgottenDoc struct {
	ID        string `bson:"_id"`
	TenantID  string `bson:"tenant_id"`
	Forgotten string `bson:"forgotten_user"`
}

// markForgotten stores the marker of a forgotten user before their links are deleted. Records
// about the user are still appended after the erasure (the erasure's own request among them,
// through the audit topic), and each computes the user's pseudonym, which stores its link:
// InsertLink deletes that link again when the marker is there. With the marker written before
// the links are deleted and checked after a link is inserted, one of the two always sees the
// other.
func (s *AuditStore) markForgotten(ctx context.Context, tenantID, userID string) error {
	_, err := s.links.InsertOne(ctx, forgottenDoc{ID: forgottenID(tenantID, userID), TenantID: tenantID, Forgotten: userID})
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("mark user forgotten: %w", err)
	}
	return nil
}

// dropLinkIfForgotten deletes the link l when its user is marked forgotten, and says whether
// they are.
func (s *AuditStore) dropLinkIfForgotten(ctx context.Context, l audit.PseudonymLink) (bool, error) {
	n, err := s.links.CountDocuments(ctx, bson.D{{Key: "_id", Value: forgottenID(l.TenantID, l.UserID)}})
	if err != nil {
		return false, fmt.Errorf("check forgotten user: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if _, err := s.links.DeleteOne(ctx, bson.D{{Key: "_id", Value: l.TenantID + "|" + l.Pseudonym}, {Key: "tenant_id", Value: l.TenantID}}); err != nil {
		return true, fmt.Errorf("delete pseudonym link of a forgotten user: %w", err)
	}
	return true, nil
}
