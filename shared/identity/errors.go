package identity

import "caas.dev/shared/fault"

// Failures of the identity domain. Their codes are part of the API contract.
var (
	// ErrEmailTaken: a user with this email already exists in the tenant.
	ErrEmailTaken = fault.New(fault.Conflict, "email_taken", "a user with this email already exists")
	// ErrInvalidEmail: the email address is not one this service accepts.
	ErrInvalidEmail = fault.New(fault.Invalid, "invalid_email", "the email address is not valid")
	// ErrWeakPassword: the password breaks the password policy.
	ErrWeakPassword = fault.New(fault.Invalid, "weak_password",
		"the password must be 12 to 128 characters long")
	// ErrInvalidDisplayName: the display name is empty, too long or holds control characters.
	ErrInvalidDisplayName = fault.New(fault.Invalid, "invalid_display_name",
		"the display name must be 1 to 100 characters without control characters")
	// ErrInvalidCredentials: wrong password, unknown email or unknown tenant; deliberately one
	// answer for all three so a caller cannot probe which emails exist.
	ErrInvalidCredentials = fault.New(fault.Unauthorized, "invalid_credentials", "the email or password is wrong")
	// ErrTooManyAttempts: too many failed logins from this address; retry after RetryAfter.
	ErrTooManyAttempts = fault.New(fault.RateLimited, "too_many_attempts", "too many failed logins; retry later")
	// ErrUserNotFound: no such user in the caller's tenant.
	ErrUserNotFound = fault.New(fault.NotFound, "user_not_found", "the user does not exist")
	// ErrSessionNotFound: no such session in the tenant.
	ErrSessionNotFound = fault.New(fault.NotFound, "session_not_found", "the session does not exist")
	// ErrInvalidToken: the access token is missing, malformed, expired or not signed by us.
	ErrInvalidToken = fault.New(fault.Unauthorized, "invalid_token", "the access token is invalid")
	// ErrNoActiveKey: no signing key is active; run the Migrate function.
	ErrNoActiveKey = fault.New(fault.Unavailable, "no_signing_key", "no active signing key; the platform is not migrated")
	// ErrKeyNotFound: no signing key has this kid.
	ErrKeyNotFound = fault.New(fault.NotFound, "key_not_found", "no signing key has this id")
	// ErrKeyExists: a signing key with this id or generation already exists.
	ErrKeyExists = fault.New(fault.Conflict, "key_exists", "a signing key with this id or generation exists")
)

// withDetail returns a copy of e with a more precise detail that still matches e.
func withDetail(e *fault.Error, detail string) error { return fault.WithDetail(e, detail) }
