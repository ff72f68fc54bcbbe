// Package fault defines the kinds of failure a caller can act on and the error value that
// carries them. Domain packages declare their sentinels with New; the Lambda edge maps each
// Kind to an HTTP status in one table, and sends Code and Detail to the client. Anything that
// is not a *Error is internal and never reaches a client.
package fault

import "errors"

// Kind classifies a failure by what the caller should do about it.
type Kind int

// The kinds of failure. Internal is the zero value so that an unclassified error is never
// mistaken for a client's fault.
const (
	Internal         Kind = iota // a bug or a broken dependency; the client may retry later
	Invalid                      // the request is malformed or breaks a rule; do not retry as is
	Unauthorized                 // credentials are missing or wrong
	Forbidden                    // the caller is known but may not do this
	NotFound                     // the resource does not exist, or the caller may not know it does
	MethodNotAllowed             // the path exists but not with this method
	Conflict                     // the request clashes with the resource's current state
	TooLarge                     // the request body is over the stated limit
	RateLimited                  // too many requests; retry after a delay
	Unavailable                  // a dependency is down; retry later
	Unprocessable                // the request is well-formed but what it refers to breaks a rule (422)
)

// Error is a failure a client may see. Code is stable and machine-readable (snake_case);
// Detail is a human sentence that never holds secrets or internal state.
type Error struct {
	Kind   Kind
	Code   string
	Detail string
	// RetryAfter, in seconds, is sent as the Retry-After header when positive.
	RetryAfter int
	err        error
}

// New returns an error of the given kind. Declare sentinels with it:
//
//	var ErrEmailTaken = fault.New(fault.Conflict, "email_taken", "a user with this email already exists")
func New(kind Kind, code, detail string) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail}
}

// Wrap returns a copy of e whose Unwrap yields cause, so callers may test for both the sentinel
// (errors.Is(err, e)) and the cause. The cause is logged, never sent to the client.
func Wrap(e *Error, cause error) *Error {
	c := *e
	c.err = cause
	return &c
}

// WithDetail returns a copy of e with a more precise detail, keeping its identity for errors.Is.
func WithDetail(e *Error, detail string) *Error {
	c := *e
	c.Detail = detail
	c.err = e
	return &c
}

func (e *Error) Error() string {
	if e.err != nil && e.err != error(e) {
		return e.Code + ": " + e.Detail + ": " + e.err.Error()
	}
	return e.Code + ": " + e.Detail
}

// Unwrap returns the wrapped cause, or nil.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is an *Error with the same kind and code, so a copy made by
// WithDetail or Wrap still matches its sentinel.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Invalidf returns an Invalid error with the given code and detail.
func Invalidf(code, detail string) *Error { return New(Invalid, code, detail) }

// Common failures shared by every domain.
var (
	ErrNotFound     = New(NotFound, "not_found", "the resource does not exist")
	ErrUnauthorized = New(Unauthorized, "unauthorized", "credentials are missing or invalid")
	ErrForbidden    = New(Forbidden, "forbidden", "the caller may not perform this action")
	ErrUnavailable  = New(Unavailable, "backend_unavailable", "a backend service is unavailable; retry later")
)
