//go:build !unix

package embedded

// lockDir does nothing where flock is missing.
//
// BUG: on such systems two FerretDB instances can be started on one data directory, and each
// then misses databases the other creates.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
