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

// Collections of refresh tokens and of their spends.
const (
	RefreshTokensCollection = "refresh_tokens"
	RefreshSpendsCollection = "refresh_spends"
)

// sessionDoc is a document of caas_platform.sessions. RevokedAt is absent until revoked.
type sessionDoc struct {
	ID          string     `bson:"_id"`
	TenantID    string     `bson:"tenant_id"`
	UserID      string     `bson:"user_id"`
	RefreshHash string     `bson:"refresh_hash"`
	CreatedAt   time.Time  `bson:"created_at"`
	LastUsedAt  time.Time  `bson:"last_used_at"`
	IP          string     `bson:"ip"`
	UserAgent   string     `bson:"user_agent"`
	RevokedAt   *time.Time `bson:"revoked_at,omitempty"`
}

// refreshTokenDoc is a document of caas_platform.refresh_tokens, keyed by the token's hash.
type refreshTokenDoc struct {
	Hash       string    `bson:"_id"`
	TenantID   string    `bson:"tenant_id"`
	UserID     string    `bson:"user_id"`
	SessionID  string    `bson:"session_id"`
	Generation int       `bson:"generation"`
	IssuedAt   time.Time `bson:"issued_at"`
	ExpiresAt  time.Time `bson:"expires_at"`
}

// spendDoc is a document of caas_platform.refresh_spends. Its _id "<session>/<generation>" is
// what makes a generation single-use: only one insert of it can succeed.
type spendDoc struct {
	ID         string    `bson:"_id"`
	TenantID   string    `bson:"tenant_id"`
	SessionID  string    `bson:"session_id"`
	Generation int       `bson:"generation"`
	At         time.Time `bson:"at"`
}

// SessionStore implements identity.SessionStore.
type SessionStore struct {
	coll   *mongo.Collection
	tokens *mongo.Collection
	spends *mongo.Collection
}

// Sessions returns the session store.
func (c *Client) Sessions() *SessionStore {
	return &SessionStore{
		coll:   c.platform.Collection(SessionsCollection),
		tokens: c.platform.Collection(RefreshTokensCollection),
		spends: c.platform.Collection(RefreshSpendsCollection),
	}
}

var _ identity.SessionStore = (*SessionStore)(nil)

// CreateSession stores s.
func (st *SessionStore) CreateSession(ctx context.Context, s identity.Session) error {
	d := sessionDoc{ID: s.ID, TenantID: s.TenantID, UserID: s.UserID, RefreshHash: s.RefreshHash,
		CreatedAt: s.CreatedAt, LastUsedAt: s.LastUsedAt, IP: s.IP, UserAgent: s.UserAgent, RevokedAt: s.RevokedAt}
	if _, err := st.coll.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionByID returns the tenant's session, or identity.ErrSessionNotFound.
func (st *SessionStore) SessionByID(ctx context.Context, tenantID, sessionID string) (identity.Session, error) {
	var d sessionDoc
	err := st.coll.FindOne(ctx, bson.D{{Key: "_id", Value: sessionID}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.Session{}, identity.ErrSessionNotFound
	}
	if err != nil {
		return identity.Session{}, fmt.Errorf("find session: %w", err)
	}
	return d.session(), nil
}

func (d sessionDoc) session() identity.Session {
	s := identity.Session{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, RefreshHash: d.RefreshHash,
		CreatedAt: d.CreatedAt.UTC(), LastUsedAt: d.LastUsedAt.UTC(), IP: d.IP, UserAgent: d.UserAgent}
	if d.RevokedAt != nil {
		r := d.RevokedAt.UTC()
		s.RevokedAt = &r
	}
	return s
}

// live matches the sessions that have not ended.
var live = bson.E{Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}

// ListSessions returns at most limit of the user's live sessions, the newest first.
func (st *SessionStore) ListSessions(ctx context.Context, tenantID, userID string, limit int) ([]identity.Session, error) {
	cur, err := st.coll.Find(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}, live},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var docs []sessionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]identity.Session, 0, len(docs))
	for _, d := range docs {
		out = append(out, d.session())
	}
	return out, nil
}

// TouchSession sets the session's last_used_at. Concurrent touches may land in any order; the
// value is informational.
func (st *SessionStore) TouchSession(ctx context.Context, tenantID, sessionID string, at time.Time) error {
	_, err := st.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: sessionID}, {Key: "tenant_id", Value: tenantID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_used_at", Value: at}}}})
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// EndSession sets revoked_at on the user's live session; false when none matched. Ending is
// monotonic, so concurrent ends need no atomicity beyond the single update.
func (st *SessionStore) EndSession(ctx context.Context, tenantID, userID, sessionID string, at time.Time) (bool, error) {
	r, err := st.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sessionID}, {Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}, live},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}})
	if err != nil {
		return false, fmt.Errorf("end session: %w", err)
	}
	return r.MatchedCount > 0, nil
}

// EndUserSessions ends every live session of the user.
func (st *SessionStore) EndUserSessions(ctx context.Context, tenantID, userID string, at time.Time) (int, error) {
	r, err := st.coll.UpdateMany(ctx,
		bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "user_id", Value: userID}, live},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: at}}}})
	if err != nil {
		return 0, fmt.Errorf("end user sessions: %w", err)
	}
	return int(r.MatchedCount), nil
}

// AddRefreshToken stores t.
func (st *SessionStore) AddRefreshToken(ctx context.Context, t identity.RefreshToken) error {
	d := refreshTokenDoc{Hash: t.Hash, TenantID: t.TenantID, UserID: t.UserID, SessionID: t.SessionID,
		Generation: t.Generation, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}
	if _, err := st.tokens.InsertOne(ctx, d); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RefreshTokenByHash returns the token with this hash, or identity.ErrRefreshTokenNotFound.
func (st *SessionStore) RefreshTokenByHash(ctx context.Context, hash string) (identity.RefreshToken, error) {
	var d refreshTokenDoc
	err := st.tokens.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.RefreshToken{}, identity.ErrRefreshTokenNotFound
	}
	if err != nil {
		return identity.RefreshToken{}, fmt.Errorf("find refresh token: %w", err)
	}
	return identity.RefreshToken{Hash: d.Hash, TenantID: d.TenantID, UserID: d.UserID, SessionID: d.SessionID,
		Generation: d.Generation, IssuedAt: d.IssuedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}, nil
}

func spendID(sessionID string, generation int) string {
	return sessionID + "/" + strconv.Itoa(generation)
}

// SpendGeneration inserts the spend; identity.ErrAlreadySpent when its _id exists.
func (st *SessionStore) SpendGeneration(ctx context.Context, sp identity.Spend) error {
	d := spendDoc{ID: spendID(sp.SessionID, sp.Generation), TenantID: sp.TenantID, SessionID: sp.SessionID,
		Generation: sp.Generation, At: sp.At}
	if _, err := st.spends.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return identity.ErrAlreadySpent
		}
		return fmt.Errorf("spend refresh token: %w", err)
	}
	return nil
}

// SpentGeneration returns the spend, or identity.ErrRefreshTokenNotFound.
func (st *SessionStore) SpentGeneration(ctx context.Context, tenantID, sessionID string, generation int) (identity.Spend, error) {
	var d spendDoc
	err := st.spends.FindOne(ctx, bson.D{{Key: "_id", Value: spendID(sessionID, generation)}, {Key: "tenant_id", Value: tenantID}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.Spend{}, identity.ErrRefreshTokenNotFound
	}
	if err != nil {
		return identity.Spend{}, fmt.Errorf("find refresh spend: %w", err)
	}
	return identity.Spend{TenantID: d.TenantID, SessionID: d.SessionID, Generation: d.Generation, At: d.At.UTC()}, nil
}
