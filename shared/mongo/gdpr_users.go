package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/identity"
)

var _ gdpr.ProfileStore = (*UserStore)(nil)

// RectifyUser implements gdpr.ProfileStore.
//
// The unique (tenant_id, email) index settles registrations, but FerretDB v1 does not report
// a conflict raised by an update as a duplicate key (DESIGN §4; on SQLite it is an internal
// error, and other backends may not check it on update at all), so a new email is checked three
// times: no other user may have it before the update; an update that fails is a conflict when
// another user has the email now; and after it the tenant must have exactly one user with it,
// otherwise the email is set back and ErrEmailTaken returned.
// Of concurrent changes of several users to one email, at most one succeeds.
//
// BUG: if the process stops between the update and the check after it, and another user took
// the same email in that instant, two users of the tenant keep one email until one of them is
// rectified; login then finds either of them.
func (s *UserStore) RectifyUser(ctx context.Context, tenantID, userID string, u gdpr.ProfileUpdate) (identity.User, error) {
	before, err := s.UserByID(ctx, tenantID, userID)
	if err != nil {
		return identity.User{}, err
	}
	set := bson.D{}
	if u.DisplayName != nil {
		set = append(set, bson.E{Key: "display_name", Value: *u.DisplayName})
	}
	if u.Email != nil {
		if taken, err := s.emailHeldByOther(ctx, tenantID, userID, *u.Email); err != nil || taken {
			return identity.User{}, cmpErr(err, identity.ErrEmailTaken)
		}
		set = append(set, bson.E{Key: "email", Value: *u.Email})
	}
	if len(set) == 0 {
		return before, nil
	}

	byID := bson.D{{Key: "_id", Value: userID}, {Key: "tenant_id", Value: tenantID}}
	res, err := s.coll.UpdateOne(ctx, byID, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		// FerretDB on SQLite refuses an update that breaks the unique index with an internal
		// error rather than a duplicate key: look whether the email is now someone else's.
		if u.Email != nil {
			if taken, cerr := s.emailHeldByOther(ctx, tenantID, userID, *u.Email); cerr == nil && (taken || isDuplicateKey(err)) {
				return identity.User{}, identity.ErrEmailTaken
			}
		}
		return identity.User{}, fmt.Errorf("rectify user: %w", err)
	}
	if res.MatchedCount == 0 {
		return identity.User{}, identity.ErrUserNotFound
	}
	if u.Email != nil {
		n, err := s.coll.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenantID}, {Key: "email", Value: *u.Email}})
		if err != nil {
			return identity.User{}, fmt.Errorf("rectify user: check email: %w", err)
		}
		if n > 1 {
			if _, err := s.coll.UpdateOne(ctx, byID, bson.D{{Key: "$set", Value: bson.D{{Key: "email", Value: before.Email}}}}); err != nil {
				return identity.User{}, fmt.Errorf("rectify user: restore email: %w", err)
			}
			return identity.User{}, identity.ErrEmailTaken
		}
	}
	return s.UserByID(ctx, tenantID, userID)
}

// emailHeldByOther reports whether a user of the tenant other than userID has email.
func (s *UserStore) emailHeldByOther(ctx context.Context, tenantID, userID, email string) (bool, error) {
	other, err := s.UserByEmail(ctx, tenantID, email)
	if errors.Is(err, identity.ErrUserNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rectify user: check email: %w", err)
	}
	return other.ID != userID, nil
}

// cmpErr returns err when it is not nil, else fallback.
func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
