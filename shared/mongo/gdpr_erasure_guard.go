package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"caas.dev/shared/gdpr"
	"caas.dev/shared/retention"
)

var _ retention.Erasures = (*ErasureStore)(nil)

// liveRunsSince is the filter of the tenant's run claims younger than gdpr.ErasureRunStale at
// now; an older claim belongs to a run that died (ClaimRun takes it over).
func liveRunsSince(tenantID string, now time.Time) bson.D {
	return bson.D{{Key: "tenant_id", Value: tenantID},
		{Key: "claimed_at", Value: bson.D{{Key: "$gt", Value: now.UTC().Add(-gdpr.ErasureRunStale)}}}}
}

// UserErasureBegun implements retention.Erasures: a live run claim or a receipt for the user.
func (s *ErasureStore) UserErasureBegun(ctx context.Context, tenantID, userID string, now time.Time) (bool, error) {
	f := append(liveRunsSince(tenantID, now), bson.E{Key: "_id", Value: tenantID + "|" + userID})
	n, err := s.runs.CountDocuments(ctx, f, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("find erasure run: %w", err)
	}
	if n > 0 {
		return true, nil
	}
	_, err = s.ErasureOfUser(ctx, tenantID, userID)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, gdpr.ErrErasureNotFound):
		return false, nil
	default:
		return false, err
	}
}

// ConversationErasureBegun implements retention.Erasures: a user with a live run claim who is
// a member of, or sent messages in, the conversation. Run claims exist only while erasures
// run, so a tenant has few.
func (s *ErasureStore) ConversationErasureBegun(ctx context.Context, tenantID, conversationID string, now time.Time) (bool, error) {
	cur, err := s.runs.Find(ctx, liveRunsSince(tenantID, now))
	if err != nil {
		return false, fmt.Errorf("list erasure runs: %w", err)
	}
	var runs []erasureRunDoc
	if err := cur.All(ctx, &runs); err != nil {
		return false, fmt.Errorf("list erasure runs: %w", err)
	}
	for _, r := range runs {
		involved, err := s.InvolvedIn(ctx, tenantID, r.UserID, []string{conversationID})
		if err != nil {
			return false, err
		}
		if involved {
			return true, nil
		}
	}
	return false, nil
}
