package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/identity"
)

// Collections of the MFA store. Sealed TOTP secrets live in the crypto database.
const (
	MFAPendingCollection    = "mfa_pending"
	MFAFactorsCollection    = "mfa_factors"
	MFARecoveryCollection   = "mfa_recovery_codes"
	MFASpentCodesCollection = "mfa_spent_codes"
	MFAChallengesCollection = "mfa_challenges"
)

// spentCodeKeep is how long a spent time step is remembered: longer than the codes it could
// match (one step either side of now).
const spentCodeKeep = 10 * time.Minute

type mfaFactorDoc struct {
	ID           string    `bson:"_id"` // tenant_id:user_id
	TenantID     string    `bson:"tenant_id"`
	UserID       string    `bson:"user_id"`
	SealedSecret string    `bson:"secret_ct"`
	CreatedAt    time.Time `bson:"created_at"`
}

type mfaRecoveryDoc struct {
	ID       string `bson:"_id"` // identity.HashRecoveryCode
	TenantID string `bson:"tenant_id"`
	UserID   string `bson:"user_id"`
}

type mfaSpentDoc struct {
	ID       string    `bson:"_id"` // tenant_id:user_id:step
	TenantID string    `bson:"tenant_id"`
	UserID   string    `bson:"user_id"`
	At       time.Time `bson:"at"`
}

type mfaChallengeDoc struct {
	ID        string    `bson:"_id"` // SHA-256 of the mfa_token
	TenantID  string    `bson:"tenant_id"`
	UserID    string    `bson:"user_id"`
	IP        string    `bson:"ip"`
	UserAgent string    `bson:"user_agent"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// MFAStore implements identity.MFAStore. Every single-use thing is spent by an insert into
// _id or a delete whose count is checked (DESIGN §4).
type MFAStore struct {
	pending, factors, recovery, spent, challenges *mongo.Collection
}

// MFA returns the MFA store.
func (c *Client) MFA() *MFAStore {
	return &MFAStore{
		pending:    c.crypto.Collection(MFAPendingCollection),
		factors:    c.crypto.Collection(MFAFactorsCollection),
		recovery:   c.platform.Collection(MFARecoveryCollection),
		spent:      c.platform.Collection(MFASpentCodesCollection),
		challenges: c.platform.Collection(MFAChallengesCollection),
	}
}

var _ identity.MFAStore = (*MFAStore)(nil)

func userKey(tenantID, userID string) string { return tenantID + ":" + userID }

func userFilter(tenantID, userID string) bson.D {
	return bson.D{{Key: "_id", Value: userKey(tenantID, userID)}, {Key: "tenant_id", Value: tenantID}}
}

// SavePending replaces the user's pending enrolment with f.
func (s *MFAStore) SavePending(ctx context.Context, f identity.MFAFactor) error {
	d := mfaFactorDoc{ID: userKey(f.TenantID, f.UserID), TenantID: f.TenantID, UserID: f.UserID,
		SealedSecret: f.SealedSecret, CreatedAt: f.CreatedAt}
	for try := 0; try < 3; try++ {
		if _, err := s.pending.DeleteOne(ctx, userFilter(f.TenantID, f.UserID)); err != nil {
			return fmt.Errorf("delete pending mfa: %w", err)
		}
		_, err := s.pending.InsertOne(ctx, d)
		if err == nil {
			return nil
		}
		if !isDuplicateKey(err) {
			return fmt.Errorf("insert pending mfa: %w", err)
		}
	}
	return errors.New("insert pending mfa: concurrent enrolments")
}

func (s *MFAStore) findFactor(ctx context.Context, coll *mongo.Collection, tenantID, userID string, none error) (identity.MFAFactor, error) {
	var d mfaFactorDoc
	err := coll.FindOne(ctx, userFilter(tenantID, userID)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.MFAFactor{}, none
	}
	if err != nil {
		return identity.MFAFactor{}, fmt.Errorf("find mfa factor: %w", err)
	}
	return identity.MFAFactor{TenantID: d.TenantID, UserID: d.UserID, SealedSecret: d.SealedSecret, CreatedAt: d.CreatedAt.UTC()}, nil
}

// FactorsAfter implements identity.MFAStore: factors by _id, the cursor being the last _id.
func (s *MFAStore) FactorsAfter(ctx context.Context, cursor string, limit int) ([]identity.MFAFactor, string, error) {
	var docs []mfaFactorDoc
	err := findAll(ctx, s.factors, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: cursor}}}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)), &docs)
	if err != nil {
		return nil, "", fmt.Errorf("list mfa factors: %w", err)
	}
	out := make([]identity.MFAFactor, len(docs))
	for i, d := range docs {
		out[i] = identity.MFAFactor{TenantID: d.TenantID, UserID: d.UserID, SealedSecret: d.SealedSecret, CreatedAt: d.CreatedAt.UTC()}
		cursor = d.ID
	}
	return out, cursor, nil
}

// ReplaceSecret implements identity.MFAStore. The filter on the old secret makes the update
// conditional: a factor disabled or re-enrolled meanwhile is not touched.
func (s *MFAStore) ReplaceSecret(ctx context.Context, f identity.MFAFactor, sealed string) (bool, error) {
	res, err := s.factors.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: userKey(f.TenantID, f.UserID)}, {Key: "secret_ct", Value: f.SealedSecret}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "secret_ct", Value: sealed}}}})
	if err != nil {
		return false, fmt.Errorf("replace mfa secret: %w", err)
	}
	return res.ModifiedCount == 1, nil
}

// Pending returns the pending enrolment, or identity.ErrMFANotEnrolled.
func (s *MFAStore) Pending(ctx context.Context, tenantID, userID string) (identity.MFAFactor, error) {
	return s.findFactor(ctx, s.pending, tenantID, userID, identity.ErrMFANotEnrolled)
}

// Factor returns the active factor, or identity.ErrMFANotEnabled.
func (s *MFAStore) Factor(ctx context.Context, tenantID, userID string) (identity.MFAFactor, error) {
	return s.findFactor(ctx, s.factors, tenantID, userID, identity.ErrMFANotEnabled)
}

// Enable inserts the factor (the unique _id lets one confirmation win), then the recovery
// codes, then drops the pending enrolment.
func (s *MFAStore) Enable(ctx context.Context, f identity.MFAFactor, recoveryHashes []string) error {
	d := mfaFactorDoc{ID: userKey(f.TenantID, f.UserID), TenantID: f.TenantID, UserID: f.UserID,
		SealedSecret: f.SealedSecret, CreatedAt: f.CreatedAt}
	if _, err := s.factors.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return identity.ErrMFAAlreadyEnabled
		}
		return fmt.Errorf("insert mfa factor: %w", err)
	}
	docs := make([]any, len(recoveryHashes))
	for i, h := range recoveryHashes {
		docs[i] = mfaRecoveryDoc{ID: h, TenantID: f.TenantID, UserID: f.UserID}
	}
	if len(docs) > 0 {
		if _, err := s.recovery.InsertMany(ctx, docs); err != nil {
			return fmt.Errorf("insert recovery codes: %w", err)
		}
	}
	if _, err := s.pending.DeleteOne(ctx, userFilter(f.TenantID, f.UserID)); err != nil {
		return fmt.Errorf("delete pending mfa: %w", err)
	}
	return nil
}

// Disable deletes the factor and the recovery codes.
func (s *MFAStore) Disable(ctx context.Context, tenantID, userID string) error {
	res, err := s.factors.DeleteOne(ctx, userFilter(tenantID, userID))
	if err != nil {
		return fmt.Errorf("delete mfa factor: %w", err)
	}
	if res.DeletedCount == 0 {
		return identity.ErrMFANotEnabled
	}
	if _, err := s.recovery.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}}); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	return nil
}

// SpendCode inserts (user, step); a duplicate key means the code was used. Steps older than
// spentCodeKeep are deleted on the way.
func (s *MFAStore) SpendCode(ctx context.Context, tenantID, userID string, step int64, at time.Time) error {
	d := mfaSpentDoc{ID: userKey(tenantID, userID) + ":" + strconv.FormatInt(step, 10), TenantID: tenantID, UserID: userID, At: at}
	if _, err := s.spent.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return identity.ErrCodeSpent
		}
		return fmt.Errorf("insert spent code: %w", err)
	}
	if _, err := s.spent.DeleteMany(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID},
		{Key: "at", Value: bson.D{{Key: "$lt", Value: at.Add(-spentCodeKeep)}}}}); err != nil {
		return fmt.Errorf("delete old spent codes: %w", err)
	}
	return nil
}

// SpendRecoveryCode deletes the code; a zero count means it was used or never existed.
func (s *MFAStore) SpendRecoveryCode(ctx context.Context, tenantID, userID, hash string) error {
	res, err := s.recovery.DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}, {Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}})
	if err != nil {
		return fmt.Errorf("delete recovery code: %w", err)
	}
	if res.DeletedCount == 0 {
		return identity.ErrCodeSpent
	}
	return nil
}

// CreateChallenge stores c.
func (s *MFAStore) CreateChallenge(ctx context.Context, c identity.MFAChallenge) error {
	d := mfaChallengeDoc{ID: c.Hash, TenantID: c.TenantID, UserID: c.UserID, IP: c.IP, UserAgent: c.UserAgent, ExpiresAt: c.ExpiresAt}
	if _, err := s.challenges.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert mfa challenge: %w", err)
	}
	// Expired challenges of anyone are dropped here: there is no TTL index on FerretDB v1.
	if _, err := s.challenges.DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: c.ExpiresAt.Add(-2 * identity.MFAChallengeTTL)}}}}); err != nil {
		return fmt.Errorf("delete expired mfa challenges: %w", err)
	}
	return nil
}

// Challenge returns the challenge, or identity.ErrInvalidMFAToken.
func (s *MFAStore) Challenge(ctx context.Context, hash string) (identity.MFAChallenge, error) {
	var d mfaChallengeDoc
	err := s.challenges.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.MFAChallenge{}, identity.ErrInvalidMFAToken
	}
	if err != nil {
		return identity.MFAChallenge{}, fmt.Errorf("find mfa challenge: %w", err)
	}
	return identity.MFAChallenge{Hash: d.ID, TenantID: d.TenantID, UserID: d.UserID, IP: d.IP, UserAgent: d.UserAgent,
		ExpiresAt: d.ExpiresAt.UTC()}, nil
}

// EndChallenge deletes the challenge; only one caller sees a count of one.
func (s *MFAStore) EndChallenge(ctx context.Context, hash string) error {
	res, err := s.challenges.DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}})
	if err != nil {
		return fmt.Errorf("delete mfa challenge: %w", err)
	}
	if res.DeletedCount == 0 {
		return identity.ErrInvalidMFAToken
	}
	return nil
}

// migrateMFA creates the MFA collections and their indexes.
func (c *Client) migrateMFA(ctx context.Context) error {
	byUser := mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "user_id", Value: 1}},
		Options: options.Index().SetName("tenant_user")}
	steps := []struct {
		coll   *mongo.Collection
		models []mongo.IndexModel
	}{
		{c.crypto.Collection(MFAPendingCollection), nil},
		{c.crypto.Collection(MFAFactorsCollection), nil},
		{c.platform.Collection(MFARecoveryCollection), []mongo.IndexModel{byUser}},
		{c.platform.Collection(MFASpentCodesCollection), []mongo.IndexModel{byUser}},
		{c.platform.Collection(MFAChallengesCollection), []mongo.IndexModel{
			{Keys: bson.D{{Key: "expires_at", Value: 1}}, Options: options.Index().SetName("expires_at")}}},
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
