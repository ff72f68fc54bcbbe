// Package keystest holds conformance suites for the interfaces of package keys, to run against
// every implementation: the local key file in `make test`, the KMS emulator in `make
// test-real`, and anything added later.
package keystest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"

	"caas.dev/shared/keys"
)

// MasterKeyConformance checks that a keys.MasterKey wraps and unwraps data keys as the key
// service relies on. newMaster returns a master key; each call must return one with a key of
// its own (another file, another KMS key), so that blobs of one can be shown not to open under
// the other.
func MasterKeyConformance(t *testing.T, newMaster func(t *testing.T) keys.MasterKey) {
	t.Helper()
	MasterKeyConformanceWithin(t, Limits{}, newMaster)
}

// Limits relaxes MasterKeyConformance for a master key whose server falls short of the service
// it stands in for. The zero value relaxes nothing.
type Limits struct {
	// UnauthenticatedHeader: the wrapped blob starts with bytes the server does not
	// authenticate. local-kms, when given the key to use, ignores the key ARN at the start of
	// its blobs, where AWS KMS refuses any altered byte. A blob altered there may still open,
	// but only to the very key it wraps; a change to its last bytes must still fail.
	UnauthenticatedHeader bool
}

// MasterKeyConformanceWithin is MasterKeyConformance with the given limits.
func MasterKeyConformanceWithin(t *testing.T, lim Limits, newMaster func(t *testing.T) keys.MasterKey) {
	t.Helper()
	ctx := context.Background()
	ec := map[string]string{"tenant": "t1", "key": "caas.kek", "version": "3"}

	t.Run("RoundTrip", func(t *testing.T) {
		m := newMaster(t)
		for _, c := range []map[string]string{ec, nil, {"a": "b=c", "a=b": "c"}} {
			plain, wrapped, err := m.GenerateDataKey(ctx, c)
			if err != nil {
				t.Fatalf("GenerateDataKey(%v): %v", c, err)
			}
			if len(plain) != 32 {
				t.Fatalf("GenerateDataKey(%v): plain key is %d bytes, want 32", c, len(plain))
			}
			if bytes.Contains(wrapped, plain) {
				t.Fatalf("GenerateDataKey(%v): the wrapped key holds the plain key", c)
			}
			got, err := m.Decrypt(ctx, wrapped, maps.Clone(c))
			if err != nil {
				t.Fatalf("Decrypt(%v): %v", c, err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("Decrypt(%v) returned another key than GenerateDataKey", c)
			}
		}
	})

	t.Run("KeysDiffer", func(t *testing.T) {
		m := newMaster(t)
		p1, w1, err := m.GenerateDataKey(ctx, ec)
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		p2, w2, err := m.GenerateDataKey(ctx, ec)
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		if bytes.Equal(p1, p2) {
			t.Error("two calls returned the same plain key")
		}
		if bytes.Equal(w1, w2) {
			t.Error("two calls returned the same wrapped key")
		}
	})

	t.Run("ContextMismatch", func(t *testing.T) {
		m := newMaster(t)
		_, wrapped, err := m.GenerateDataKey(ctx, ec)
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		extra := maps.Clone(ec)
		extra["purpose"] = "x"
		changed := maps.Clone(ec)
		changed["version"] = "4"
		missing := maps.Clone(ec)
		delete(missing, "version")
		renamed := maps.Clone(missing)
		renamed["Version"] = "3"
		for name, c := range map[string]map[string]string{
			"extra key": extra, "changed value": changed, "missing key": missing,
			"renamed key": renamed, "empty": nil,
		} {
			if _, err := m.Decrypt(ctx, wrapped, c); !errors.Is(err, keys.ErrUnwrap) {
				t.Errorf("Decrypt with context %s: err = %v, want ErrUnwrap", name, err)
			}
		}
		if _, err := m.Decrypt(ctx, wrapped, ec); err != nil {
			t.Errorf("Decrypt with the right context after failures: %v", err)
		}
	})

	t.Run("Tampered", func(t *testing.T) {
		m := newMaster(t)
		plain, wrapped, err := m.GenerateDataKey(ctx, ec)
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		n := len(wrapped)
		for _, i := range []int{0, 1, n / 4, n / 2, 3 * n / 4, n - 17, n - 2, n - 1} {
			bad := bytes.Clone(wrapped)
			bad[i] ^= 0x01
			got, err := m.Decrypt(ctx, bad, ec)
			if lim.UnauthenticatedHeader && i < n-32 && err == nil {
				if !bytes.Equal(got, plain) {
					t.Errorf("Decrypt with byte %d of %d flipped returned another key", i, n)
				}
				continue
			}
			if !errors.Is(err, keys.ErrUnwrap) {
				t.Errorf("Decrypt with byte %d of %d flipped: err = %v, want ErrUnwrap", i, n, err)
			}
		}
		for name, bad := range map[string][]byte{
			"truncated": wrapped[:n-1], "extended": append(bytes.Clone(wrapped), 0),
		} {
			if _, err := m.Decrypt(ctx, bad, ec); !errors.Is(err, keys.ErrUnwrap) {
				t.Errorf("Decrypt of a %s blob: err = %v, want ErrUnwrap", name, err)
			}
		}
	})

	t.Run("OtherMasterKey", func(t *testing.T) {
		m1, m2 := newMaster(t), newMaster(t)
		if m1.ID() == m2.ID() {
			t.Fatalf("two master keys have the same ID %q", m1.ID())
		}
		_, wrapped, err := m1.GenerateDataKey(ctx, ec)
		if err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		if _, err := m2.Decrypt(ctx, wrapped, ec); !errors.Is(err, keys.ErrUnwrap) {
			t.Errorf("Decrypt under another master key: err = %v, want ErrUnwrap", err)
		}
	})

	t.Run("ID", func(t *testing.T) {
		m := newMaster(t)
		id := m.ID()
		if id == "" {
			t.Fatal("ID() is empty")
		}
		if _, _, err := m.GenerateDataKey(ctx, ec); err != nil {
			t.Fatalf("GenerateDataKey: %v", err)
		}
		if again := m.ID(); again != id {
			t.Errorf("ID() changed from %q to %q", id, again)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		m := newMaster(t)
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for g := range 20 {
			wg.Go(func() {
				c := map[string]string{"tenant": fmt.Sprintf("t%d", g)}
				for range 3 {
					plain, wrapped, err := m.GenerateDataKey(ctx, c)
					if err != nil {
						errs <- fmt.Errorf("goroutine %d: GenerateDataKey: %w", g, err)
						return
					}
					got, err := m.Decrypt(ctx, wrapped, c)
					if err != nil {
						errs <- fmt.Errorf("goroutine %d: Decrypt: %w", g, err)
						return
					}
					if !bytes.Equal(got, plain) {
						errs <- fmt.Errorf("goroutine %d: Decrypt returned another key", g)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
