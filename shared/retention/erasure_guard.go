package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"caas.dev/shared/fault"
)

// ErrUserErasure: the user named by a hold, or a member or sender of the conversation it names,
// is being erased, or the user has an erasure receipt; a hold placed now could not keep what
// the erasure destroys, so it is refused and not stored.
var ErrUserErasure = fault.New(fault.Conflict, "erasure_in_progress",
	"an erasure of the user, or of a member of the conversation, has begun; the legal hold is not placed")

// Erasures tells a hold's placement whether an erasure it would race has begun;
// *mongo.ErasureStore is the production one. Both methods only read: the erasure stores its run
// claim before it checks the holds, and PlaceHold stores the hold before it asks here, so of a
// hold and an erasure racing on the same user at least one sees the other.
type Erasures interface {
	// UserErasureBegun reports whether the tenant has a live erasure run claim (one younger
	// than the stale age at now) or an erasure receipt for the user.
	UserErasureBegun(ctx context.Context, tenantID, userID string, now time.Time) (bool, error)
	// ConversationErasureBegun reports whether a user with a live erasure run claim of the
	// tenant is a member of, or sent messages in, the conversation.
	ConversationErasureBegun(ctx context.Context, tenantID, conversationID string, now time.Time) (bool, error)
}

// guardErasure withdraws the stored hold h and returns ErrUserErasure when an erasure of its
// user, or of a user involved in its conversation, has begun. Without an Erasures it does
// nothing.
func (s *Service) guardErasure(ctx context.Context, h Hold) error {
	if s.cfg.Erasures == nil {
		return nil
	}
	now := s.cfg.Clock.Now()
	var begun bool
	var err error
	if h.UserID != "" {
		begun, err = s.cfg.Erasures.UserErasureBegun(ctx, h.TenantID, h.UserID, now)
	} else {
		begun, err = s.cfg.Erasures.ConversationErasureBegun(ctx, h.TenantID, h.ConversationID, now)
	}
	if err == nil && !begun {
		return nil
	}
	// On a failed check the hold is withdrawn too: it must not stand while an erasure it was
	// not checked against may be destroying the data.
	if derr := s.cfg.Store.DeleteHold(context.WithoutCancel(ctx), h.TenantID, h.ID); derr != nil && !errors.Is(derr, ErrNotFound) {
		return fmt.Errorf("withdraw legal hold during an erasure: %w", derr)
	}
	if err != nil {
		return fmt.Errorf("check erasures: %w", err)
	}
	return ErrUserErasure
}
