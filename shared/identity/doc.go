// Package identity registers users, checks their passwords, and issues and verifies the access
// tokens every protected route relies on.
//
// Passwords are hashed with argon2id (OWASP parameters, PHC strings). Access tokens are JWTs
// signed RS256 with a key named by its kid; the keys live in a KeyStore and the Authorizer
// verifies tokens against their public halves. Refresh tokens are 32 random bytes handed to the
// client once and stored only as their SHA-256, in a session record that later rotation,
// logout and MFA build on.
//
// The package declares the stores it consumes (UserStore, SessionStore, KeyStore) and the
// rate limiter of failed logins; shared/mongo and shared/redis implement them.
package identity
