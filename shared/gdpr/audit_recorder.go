package gdpr

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"caas.dev/shared/audit"
	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
)

// UserSealer seals a value under a user's own key; *keys.Service is the production one.
type UserSealer interface {
	EncryptForUser(ctx context.Context, tenantID, userID string, plaintext, context []byte) (string, error)
}

// AuditRecorder is the ChangeRecorder of production: each rectification becomes one record in
// the tenant's audit trail, naming the subject and the actor by their pseudonyms, with the
// changed fields' old and new values. Audit records are never changed or deleted, and the
// values are personal data, so each value is stored sealed under the subject's own key: erasing
// the user shreds that key, the values become unreadable, and the chain still verifies. A
// ciphertext's header names its key, and a user's key is named by the user id, so the record
// keeps only "<version>:<sealed bytes>" of it (see OpenRectifiedValue): the record never names
// the user in the clear.
type AuditRecorder struct {
	Audit *audit.Service
	Keys  UserSealer
	IDs   ids.Generator
}

// RectificationAction is the action of the audit records of rectifications.
const RectificationAction = "PATCH /v1/gdpr/users/{id}"

var recordIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,100}$`)

// RectificationContext is the encryption context of a value in a rectification record: the
// record, the field, and which side ("old" or "new") it is.
func RectificationContext(recordID, field, side string) []byte {
	return []byte("audit-rectification\x00" + recordID + "\x00" + field + "\x00" + side)
}

// RecordChange implements ChangeRecorder.
func (r AuditRecorder) RecordChange(ctx context.Context, c Change) error {
	// A retried request is a new request id; one that changes nothing records nothing.
	recordID := "rectify:" + c.RequestID
	if !recordIDPattern.MatchString(c.RequestID) {
		recordID = "rectify:" + r.IDs.New("aud")
	}
	subject, err := r.Audit.Pseudonym(ctx, c.TenantID, c.UserID)
	if err != nil {
		return fmt.Errorf("record rectification: %w", err)
	}
	actor := audit.Actor{Type: audit.ActorAPIKey, ID: audit.APIKeyActorID}
	if c.Actor != edge.ActorAPIKey {
		id, err := r.Audit.Pseudonym(ctx, c.TenantID, c.Actor)
		if err != nil {
			return fmt.Errorf("record rectification: %w", err)
		}
		actor = audit.Actor{Type: audit.ActorUser, ID: id}
	}

	names := make([]string, len(c.Fields))
	details := map[string]string{}
	for i, f := range c.Fields {
		names[i] = f.Field
		for side, v := range map[string]string{"old": f.Old, "new": f.New} {
			sealed, err := r.Keys.EncryptForUser(ctx, c.TenantID, c.UserID, []byte(v), RectificationContext(recordID, f.Field, side))
			if err != nil {
				return fmt.Errorf("seal rectified %s: %w", f.Field, err)
			}
			details[side+"_"+f.Field] = strings.TrimPrefix(sealed, userKeyHeader(c.UserID))
		}
	}
	details["fields"] = strings.Join(names, ",")

	_, err = r.Audit.Append(ctx, c.TenantID, []audit.Input{{
		ID: recordID, Time: c.At, Actor: actor, Action: RectificationAction,
		Resource: "user:" + subject, Outcome: audit.OutcomeSuccess, Status: 200,
		RequestID: c.RequestID, Details: details,
	}})
	if err != nil {
		return fmt.Errorf("record rectification: %w", err)
	}
	return nil
}

// userKeyHeader is the start of every ciphertext under the user's own key, up to its version.
func userKeyHeader(userID string) string { return "caas:v1:" + keys.UserKeyName(userID) + ":" }

// UserOpener opens a ciphertext; *keys.Service is the production one.
type UserOpener interface {
	Decrypt(ctx context.Context, tenantID, ciphertext string, context []byte) ([]byte, error)
}

// OpenRectifiedValue returns a value of a rectification record, as stored in its details under
// side_field ("old_email"), for whoever knows the subject's user id (through the pseudonym
// link, which erasure deletes). Once the user's key is shredded it fails with
// keys.ErrKeyShredded.
func OpenRectifiedValue(ctx context.Context, k UserOpener, tenantID, userID, recordID, field, side, stored string) (string, error) {
	pt, err := k.Decrypt(ctx, tenantID, userKeyHeader(userID)+stored, RectificationContext(recordID, field, side))
	if err != nil {
		return "", err
	}
	return string(pt), nil
}
