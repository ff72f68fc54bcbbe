package mongo

import (
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
	ID           string    `bson:"_id"`
	TenantID     string    `bson:"tenant_id"`
	Email        string    `bson:"email"`
	DisplayName  string    `bson:"display_name"`
	PasswordHash string    `bson:"password_hash"`
	CreatedAt    time.Time `bson:"created_at"`
}

// UserStore implements identity.UserStore.
type UserStore struct {
	coll *mongo.Collection
}

// Users returns the user store.
func (c *Client) Users() *UserStore {
	return &UserStore{coll: c.platform.Collection(UsersCollection)}
}

var _ identity.UserStore = (*UserStore)(nil)

// CreateUser stores u; identity.ErrEmailTaken when the tenant has the email already (the
// unique (tenant_id, email) index decides, also between concurrent registrations).
func (s *UserStore) CreateUser(ctx context.Context, u identity.User) error {
	d := userDoc{ID: u.ID, TenantID: u.TenantID, Email: u.Email, DisplayName: u.DisplayName,
		PasswordHash: u.PasswordHash, CreatedAt: u.CreatedAt}
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
		PasswordHash: d.PasswordHash, CreatedAt: d.CreatedAt.UTC()}, nil
}
