package mongo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"caas.dev/shared/identity"
)

// userDoc is a document of caas_platform.users. The chat stores read this collection directly:
// keep the field names.
type userDoc struct {
	ID           string `bson:"_id"`
	TenantID     string `bson:"tenant_id"`
	Email        string `bson:"email"`
	DisplayName  string `bson:"display_name"`
	PasswordHash string `bson:"password_hash"`
	// Role is identity.RoleAdmin or identity.RoleUser; documents written before roles have
	// none and read as identity.RoleUser.
	Role      string    `bson:"role,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
}

// UserStore implements identity.UserStore.
type UserStore struct {
	coll *mongo.Collection
}

// Users returns the user store.
func (c *Client) Users() *UserStore {
	return &UserStore{coll: c.platform.Collection(UsersCollection)}
}

var (
	_ identity.UserStore = (*UserStore)(nil)
	_ identity.RoleStore = (*UserStore)(nil)
)

// SetUserRole sets the role of the tenant's user, or fails with identity.ErrUserNotFound. One
// field of one document is set: no uniqueness is at stake, so a plain update is safe on
// FerretDB; of two concurrent changes the last one wins.
func (s *UserStore) SetUserRole(ctx context.Context, tenantID, userID, role string) error {
	res, err := s.coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "tenant_id", Value: tenantID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: role}}}})
	if err != nil {
		return fmt.Errorf("set user role: %w", err)
	}
	if res.MatchedCount == 0 {
		return identity.ErrUserNotFound
	}
	return nil
}

// CreateUser stores u; identity.ErrEmailTaken when the tenant has the email already (the
// unique (tenant_id, email) index decides, also between concurrent registrations).
func (s *UserStore) CreateUser(ctx context.Context, u identity.User) error {
	d := userDoc{ID: u.ID, TenantID: u.TenantID, Email: u.Email, DisplayName: u.DisplayName,
		PasswordHash: u.PasswordHash, Role: u.Role, CreatedAt: u.CreatedAt}
	if _, err := s.coll.InsertOne(ctx, d); err != nil {
		if isDuplicateKey(err) {
			return identity.ErrEmailTaken
		}
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByID returns the tenant's user, or identity.ErrUserNotFound.
func (s *UserStore) UserByID(ctx context.Context, tenantID, userID string) (identity.User, error) {
	return s.findOne(ctx, bson.D{{Key: "_id", Value: userID}, {Key: "tenant_id", Value: tenantID}})
}

// UserByEmail returns the tenant's user with this normalised email, or identity.ErrUserNotFound.
func (s *UserStore) UserByEmail(ctx context.Context, tenantID, email string) (identity.User, error) {
	return s.findOne(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "email", Value: email}})
}

func (s *UserStore) findOne(ctx context.Context, filter bson.D) (identity.User, error) {
	var d userDoc
	err := s.coll.FindOne(ctx, filter).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return identity.User{}, identity.ErrUserNotFound
	}
	if err != nil {
		return identity.User{}, fmt.Errorf("find user: %w", err)
	}
	return identity.User{ID: d.ID, TenantID: d.TenantID, Email: d.Email, DisplayName: d.DisplayName,
		PasswordHash: d.PasswordHash, Role: cmp.Or(d.Role, identity.RoleUser), CreatedAt: d.CreatedAt.UTC()}, nil
}
