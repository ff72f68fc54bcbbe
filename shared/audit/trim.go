package audit

import "context"

// Trimmed is implemented by a Store from which retention deletes a tenant's oldest records.
// Retention deletes only whole prefixes of a chain, up to a checkpoint it keeps: Floor is that
// checkpoint's seq (1 when nothing was deleted), and Verify starts there instead of at the
// genesis. A floor without a checkpoint at its seq does not verify.
//
// BUG: Verify trusts the stored floor: someone who can write the database could raise it to a
// checkpoint and delete the records below unnoticed. Each retention run states the floor it set
// in its own record (details audit_floor_seq), which lies above the floor and is covered by the
// chain, so an auditor can compare the two; Verify does not yet do that itself.
type Trimmed interface {
	Floor(ctx context.Context, tenantID string) (int64, error)
}
