package audit

import (
	"context"
	"strconv"
	"time"
)

// Trimmed is implemented by a Store from which retention deletes a tenant's oldest records.
// Retention deletes only whole prefixes of a chain, up to a checkpoint it keeps: Floor is that
// checkpoint's seq (1 when nothing was deleted), and Verify starts there instead of at the
// genesis. A floor without a checkpoint at its seq does not verify.
//
// Before it deletes, retention states the floor in the chain itself: a record of the system
// actor TrimActorID with action TrimAction and the floor in its TrimFloorDetail. Verify refuses
// a stored floor above the highest floor so stated (ReasonUnprovenFloor), so raising the floor in
// the database to hide deleted records is detected. Records appended through the API cannot
// carry a system actor.
type Trimmed interface {
	Floor(ctx context.Context, tenantID string) (int64, error)
}

// How retention states a floor in the chain before it deletes below it.
const (
	TrimActorID     = "retention"
	TrimAction      = "TRIM audit_records"
	TrimFloorDetail = "audit_floor_seq"
)

// TrimStatement returns the record that states floor for the tenant's chain. Its id is fixed by
// the floor, so stating one floor twice (a run that resumes) appends it once.
func TrimStatement(floor int64, at time.Time) Input {
	f := strconv.FormatInt(floor, 10)
	return Input{ID: "retention-trim-" + f, Time: at, Actor: Actor{Type: ActorSystem, ID: TrimActorID},
		Action: TrimAction, Resource: "audit_records", Outcome: OutcomeSuccess,
		Details: map[string]string{TrimFloorDetail: f}}
}

// statedFloor returns the highest floor the tenant's chain states (1: none stated). Floors only
// rise, so the newest statement holds it; statements by anything but the system's retention
// actor are ignored.
func (s *Service) statedFloor(ctx context.Context, tenantID string) (int64, error) {
	cursor := ""
	for {
		recs, next, err := s.Query(ctx, tenantID, Filter{Action: TrimAction}, cursor, MaxQueryLimit)
		if err != nil {
			return 0, err
		}
		for _, r := range recs {
			if r.Actor != (Actor{Type: ActorSystem, ID: TrimActorID}) {
				continue
			}
			if f, err := strconv.ParseInt(r.Details[TrimFloorDetail], 10, 64); err == nil && f > 1 {
				return f, nil
			}
		}
		if next == "" {
			return 1, nil
		}
		cursor = next
	}
}
