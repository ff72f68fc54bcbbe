package keys_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/clock"
	"caas.dev/shared/fault"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

var admin = keys.Caller{TenantID: "ten_a", Role: keys.RoleAdmin}

// world is a key service on a real store, with the pieces a test may want to reuse: a second
// service over the same store and master key behaves as another function instance.
type world struct {
	svc    *keys.Service
	store  keys.Store
	master keys.MasterKey
	clock  *clock.Fixed
}

func newWorld(t testing.TB) *world {
	t.Helper()
	ctx := context.Background()
	db, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), backendtest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{store: db.Keys(), master: master, clock: clock.NewFixed(time.Now())}
	w.svc = w.instance(t)
	return w
}

// instance returns another service over the same store and master key, with empty caches.
func (w *world) instance(t testing.TB) *keys.Service {
	t.Helper()
	svc, err := keys.New(keys.Config{Store: w.store, Master: w.master, Clock: w.clock})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (w *world) createKey(t *testing.T, c keys.Caller, name string) keys.Key {
	t.Helper()
	k, err := w.svc.CreateKey(context.Background(), c, keys.NewKey{Name: name})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return k
}

func TestRoundTripSizes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	sizes := []int{0, 1, 15, 16, 17}
	for n := 2; n <= 1<<20; n *= 2 {
		sizes = append(sizes, n)
	}
	for _, n := range sizes {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		for i := range pt {
			pt[i] ^= byte(i)
		}
		ct, v, err := w.svc.EncryptAs(ctx, admin, "docs", pt, []byte("doc-42"))
		if err != nil {
			t.Fatalf("%d bytes: encrypt: %v", n, err)
		}
		if v != 1 || !strings.HasPrefix(ct, "caas:v1:docs:1:") {
			t.Fatalf("%d bytes: ciphertext %.40q version %d", n, ct, v)
		}
		got, h, err := w.svc.DecryptAs(ctx, admin, ct, []byte("doc-42"))
		if err != nil {
			t.Fatalf("%d bytes: decrypt: %v", n, err)
		}
		if !bytes.Equal(got, pt) || h.Name != "docs" || h.Version != 1 {
			t.Fatalf("%d bytes: round trip gave %d bytes, header %+v", n, len(got), h)
		}
	}
}

func TestTamperingFails(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	w.createKey(t, admin, "other")
	pt := []byte("the quick brown fox")
	ct, _, err := w.svc.EncryptAs(ctx, admin, "docs", pt, []byte("ctx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RotateKey(ctx, admin, "docs"); err != nil {
		t.Fatal(err)
	}
	h, sealed, err := keys.ParseCiphertext(ct)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return fmt.Sprintf("caas:v1:%s:%d:%s", h.Name, h.Version, base64.RawURLEncoding.EncodeToString(b))
	}
	body := ct[strings.LastIndexByte(ct, ':')+1:]
	cases := []struct {
		name    string
		ct      string
		context string
		want    error
	}{
		{"nonce", flip(0), "ctx", keys.ErrDecrypt},
		{"nonce end", flip(11), "ctx", keys.ErrDecrypt},
		{"sealed byte", flip(12), "ctx", keys.ErrDecrypt},
		{"tag", flip(len(sealed) - 1), "ctx", keys.ErrDecrypt},
		{"key version", "caas:v1:docs:2:" + body, "ctx", keys.ErrDecrypt},
		{"unknown version", "caas:v1:docs:9:" + body, "ctx", keys.ErrVersionNotFound},
		{"key name", "caas:v1:other:1:" + body, "ctx", keys.ErrDecrypt},
		{"missing key", "caas:v1:nope:1:" + body, "ctx", keys.ErrKeyNotFound},
		{"format version", "caas:v2:docs:1:" + body, "ctx", keys.ErrInvalidCiphertext},
		{"context", ct, "ctx2", keys.ErrDecrypt},
		{"no context", ct, "", keys.ErrDecrypt},
		{"truncated", fmt.Sprintf("caas:v1:docs:1:%s", base64.RawURLEncoding.EncodeToString(sealed[:len(sealed)-1])), "ctx", keys.ErrDecrypt},
		{"too short", "caas:v1:docs:1:AAAA", "ctx", keys.ErrInvalidCiphertext},
		{"padding", ct + "=", "ctx", keys.ErrInvalidCiphertext},
		{"leading zero version", "caas:v1:docs:01:" + body, "ctx", keys.ErrInvalidCiphertext},
		{"empty", "", "ctx", keys.ErrInvalidCiphertext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := w.svc.DecryptAs(ctx, admin, c.ct, []byte(c.context))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %q, %v; want %v", got, err, c.want)
			}
			if f := fault.As(err); f == nil || f.Kind == fault.Internal {
				t.Fatalf("error %v is not a client error", err)
			}
		})
	}
	if got, _, err := w.svc.DecryptAs(ctx, admin, ct, []byte("ctx")); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("the untouched ciphertext: %q, %v", got, err)
	}
	// The same name in another tenant is another key: the ciphertext does not open there.
	other := keys.Caller{TenantID: "ten_b", Role: keys.RoleAdmin}
	if _, _, err := w.svc.DecryptAs(ctx, other, ct, []byte("ctx")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("other tenant without the key: %v", err)
	}
	w.createKey(t, other, "docs")
	if _, _, err := w.svc.DecryptAs(ctx, other, ct, []byte("ctx")); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("other tenant with a key of that name: %v", err)
	}
}

func TestRotationRetirementAndRewrap(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	pt := []byte("version one")
	v1, _, err := w.svc.EncryptAs(ctx, admin, "docs", pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	for want := 2; want <= 3; want++ {
		k, err := w.svc.RotateKey(ctx, admin, "docs")
		if err != nil || k.Primary() != want || len(k.Versions) != want {
			t.Fatalf("rotate: primary %d, %d versions, %v", k.Primary(), len(k.Versions), err)
		}
	}
	v3, ver, err := w.svc.EncryptAs(ctx, admin, "docs", pt, nil)
	if err != nil || ver != 3 {
		t.Fatalf("encrypt after rotation: version %d, %v", ver, err)
	}
	for _, ct := range []string{v1, v3} {
		if got, _, err := w.svc.DecryptAs(ctx, admin, ct, nil); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("decrypt %.20s: %q, %v", ct, got, err)
		}
	}

	re, newVer, err := w.svc.RewrapAs(ctx, admin, v1, nil)
	if err != nil || newVer != 3 || !strings.HasPrefix(re, "caas:v1:docs:3:") {
		t.Fatalf("rewrap: %.20s v%d, %v", re, newVer, err)
	}
	if got, _, err := w.svc.DecryptAs(ctx, admin, re, nil); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("decrypt rewrapped: %q, %v", got, err)
	}
	if _, _, err := w.svc.RewrapAs(ctx, admin, v1, []byte("wrong")); !errors.Is(err, keys.ErrDecrypt) {
		t.Fatalf("rewrap with the wrong context: %v", err)
	}

	three := 3
	// Version 3 became the primary just now: other instances may still encrypt under 2.
	if _, err := w.svc.UpdatePolicy(ctx, admin, "docs", keys.PolicyChange{MinDecryptionVersion: &three}); !errors.Is(err, keys.ErrVersionInUse) {
		t.Fatalf("retire right after a rotation: %v", err)
	}
	w.clock.Advance(keys.DefaultMetadataTTL + 2*time.Second)
	k, err := w.svc.UpdatePolicy(ctx, admin, "docs", keys.PolicyChange{MinDecryptionVersion: &three})
	if err != nil || k.MinDecryptionVersion != 3 {
		t.Fatalf("retire: %+v, %v", k.Policy, err)
	}
	if _, _, err := w.svc.DecryptAs(ctx, admin, v1, nil); !errors.Is(err, keys.ErrVersionRetired) {
		t.Fatalf("decrypt a retired version: %v", err)
	}
	if _, _, err := w.svc.RewrapAs(ctx, admin, v1, nil); !errors.Is(err, keys.ErrVersionRetired) {
		t.Fatalf("rewrap a retired version: %v", err)
	}
	// Another instance, whose caches are empty, refuses it too.
	if _, err := w.instance(t).Decrypt(ctx, admin.TenantID, v1, nil); !errors.Is(err, keys.ErrVersionRetired) {
		t.Fatalf("another instance decrypts a retired version: %v", err)
	}
	four := 4
	if _, err := w.svc.UpdatePolicy(ctx, admin, "docs", keys.PolicyChange{MinDecryptionVersion: &four}); !errors.Is(err, keys.ErrInvalidPolicy) {
		t.Fatalf("min above the primary: %v", err)
	}
	one := 1
	if _, err := w.svc.UpdatePolicy(ctx, admin, "docs", keys.PolicyChange{MinDecryptionVersion: &one}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := w.svc.DecryptAs(ctx, admin, v1, nil); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("decrypt after lowering the minimum again: %q, %v", got, err)
	}
}

func TestRolesAndReservedKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	user := keys.Caller{TenantID: admin.TenantID, Role: keys.RoleUser}
	if _, err := w.svc.CreateKey(ctx, user, keys.NewKey{Name: "mine"}); !errors.Is(err, keys.ErrNotAdmin) {
		t.Fatalf("a user creates a key: %v", err)
	}
	for _, name := range []string{"caas.kek", "caas.anything", "Upper", "", "-dash", "a:b", strings.Repeat("a", 129)} {
		if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: name}); !errors.Is(err, keys.ErrReservedKey) && !errors.Is(err, keys.ErrInvalidName) {
			t.Fatalf("create %q: %v", name, err)
		}
	}
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "x", EncryptRoles: []string{"root"}}); !errors.Is(err, keys.ErrInvalidPolicy) {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "x", RotationPeriod: time.Minute}); !errors.Is(err, keys.ErrInvalidPolicy) {
		t.Fatalf("a one-minute rotation period: %v", err)
	}

	w.createKey(t, admin, "admins-only")
	if _, _, err := w.svc.EncryptAs(ctx, user, "admins-only", []byte("x"), nil); !errors.Is(err, keys.ErrForbidden) {
		t.Fatalf("a user encrypts with an admin key: %v", err)
	}
	ct, _, err := w.svc.EncryptAs(ctx, admin, "admins-only", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.DecryptAs(ctx, user, ct, nil); !errors.Is(err, keys.ErrForbidden) {
		t.Fatalf("a user decrypts with an admin key: %v", err)
	}

	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "app", EncryptRoles: []string{"user", "admin"},
		DecryptRoles: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	ct, _, err = w.svc.EncryptAs(ctx, user, "app", []byte("x"), nil)
	if err != nil {
		t.Fatalf("a user encrypts with a key that lets users encrypt: %v", err)
	}
	if _, _, err := w.svc.DecryptAs(ctx, user, ct, nil); !errors.Is(err, keys.ErrForbidden) {
		t.Fatalf("a user decrypts with a key that lets only admins decrypt: %v", err)
	}
	if _, err := w.svc.UpdatePolicy(ctx, admin, "app", keys.PolicyChange{DecryptRoles: []string{"user"}}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := w.svc.DecryptAs(ctx, user, ct, nil); err != nil || string(got) != "x" {
		t.Fatalf("a user decrypts once allowed: %q, %v", got, err)
	}

	// Platform keys cannot be used through the API, even by an admin.
	userCT, err := w.svc.EncryptForUser(ctx, admin.TenantID, "usr_1", []byte("private"), []byte("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.svc.DecryptAs(ctx, admin, userCT, []byte("m1")); !errors.Is(err, keys.ErrReservedKey) {
		t.Fatalf("an admin decrypts a user's ciphertext through the API: %v", err)
	}
	if _, _, err := w.svc.EncryptAs(ctx, admin, keys.SecretsKeyName, []byte("x"), nil); !errors.Is(err, keys.ErrReservedKey) {
		t.Fatalf("an admin encrypts with the secrets key: %v", err)
	}
	if _, _, err := w.svc.RewrapAs(ctx, admin, userCT, []byte("m1")); !errors.Is(err, keys.ErrReservedKey) {
		t.Fatalf("an admin rewraps a user's ciphertext: %v", err)
	}
}

func TestUserKeysShred(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tenant := admin.TenantID
	a, err := w.svc.EncryptForUser(ctx, tenant, "usr_a", []byte("from a"), []byte("m1"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.svc.EncryptForUser(ctx, tenant, "usr_b", []byte("from b"), []byte("m2"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := w.store.Key(ctx, tenant, keys.UserKeyName("usr_a"))
	if err != nil || k.Owner != "usr_a" || !strings.HasPrefix(k.Versions[0].WrappedBy, "key:caas.kek:") {
		t.Fatalf("user key %+v, %v", k, err)
	}
	// A fresh instance unwraps the user's key through the KEK and the master key.
	if got, err := w.instance(t).Decrypt(ctx, tenant, a, []byte("m1")); err != nil || string(got) != "from a" {
		t.Fatalf("cold decrypt: %q, %v", got, err)
	}

	other := w.instance(t)
	if _, err := other.Decrypt(ctx, tenant, a, []byte("m1")); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.ShredUser(ctx, tenant, "usr_a"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Decrypt(ctx, tenant, a, []byte("m1")); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("decrypt after shred: %v", err)
	}
	if _, err := w.svc.EncryptForUser(ctx, tenant, "usr_a", []byte("again"), nil); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("encrypt for a shredded user: %v", err)
	}
	// Another instance, which had the key cached, stops within the metadata TTL.
	w.clock.Advance(keys.DefaultMetadataTTL + time.Millisecond)
	if _, err := other.Decrypt(ctx, tenant, a, []byte("m1")); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("another instance after the metadata TTL: %v", err)
	}
	if got, err := w.instance(t).Decrypt(ctx, tenant, b, []byte("m2")); err != nil || string(got) != "from b" {
		t.Fatalf("the other user's text: %q, %v", got, err)
	}
	// Shredding a user who never had a key leaves a shredded key, so none is made later.
	if err := w.svc.ShredUser(ctx, tenant, "usr_never"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.EncryptForUser(ctx, tenant, "usr_never", []byte("x"), nil); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("encrypt for a user shredded before having a key: %v", err)
	}
	if err := w.svc.ShredUser(ctx, tenant, "usr_a"); err != nil {
		t.Fatalf("shred twice: %v", err)
	}
}

func TestAnotherMasterKeyCannotUnwrap(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	ct, _, err := w.svc.EncryptAs(ctx, admin, "docs", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	otherMaster, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := keys.New(keys.Config{Store: w.store, Master: otherMaster})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Decrypt(ctx, admin.TenantID, ct, nil); !errors.Is(err, keys.ErrUnwrap) {
		t.Fatalf("decrypt with another master key: %v", err)
	}
}

func TestConcurrentRotations(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.instance(t).RotateKey(ctx, admin, "docs"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	k, err := w.svc.GetKey(ctx, admin, "docs")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Versions) != n+1 || k.Primary() != n+1 {
		t.Fatalf("%d versions, primary %d; want %d", len(k.Versions), k.Primary(), n+1)
	}
	for i, v := range k.Versions {
		if v.Version != i+1 {
			t.Fatalf("versions %v are not 1..%d", k.Versions, n+1)
		}
	}
}

func TestRotateDue(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "hourly", RotationPeriod: time.Hour}); err != nil {
		t.Fatal(err)
	}
	w.createKey(t, admin, "manual")
	if n, err := w.svc.RotateDue(ctx); err != nil || n != 0 {
		t.Fatalf("nothing due yet: %d, %v", n, err)
	}
	w.clock.Advance(61 * time.Minute)
	if n, err := w.svc.RotateDue(ctx); err != nil || n != 1 {
		t.Fatalf("one due: %d, %v", n, err)
	}
	if n, err := w.svc.RotateDue(ctx); err != nil || n != 0 {
		t.Fatalf("just rotated: %d, %v", n, err)
	}
	for name, want := range map[string]int{"hourly": 2, "manual": 1} {
		k, err := w.svc.GetKey(ctx, admin, name)
		if err != nil || k.Primary() != want {
			t.Fatalf("%s: primary %d, %v; want %d", name, k.Primary(), err, want)
		}
	}
	period := time.Duration(0)
	if _, err := w.svc.UpdatePolicy(ctx, admin, "hourly", keys.PolicyChange{RotationPeriod: &period}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(2 * time.Hour)
	if n, err := w.svc.RotateDue(ctx); err != nil || n != 0 {
		t.Fatalf("rotation turned off: %d, %v", n, err)
	}
}

func TestMAC(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tenant := admin.TenantID
	mac, err := w.svc.MACForUser(ctx, tenant, "usr_a", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(mac, "hello") {
		t.Fatalf("the MAC shows the data: %s", mac)
	}
	again, err := w.svc.MACForUser(ctx, tenant, "usr_a", []byte("hello"))
	if err != nil || again != mac {
		t.Fatalf("the MAC is not stable: %s vs %s, %v", mac, again, err)
	}
	if other, _ := w.svc.MACForUser(ctx, tenant, "usr_b", []byte("hello")); other == mac {
		t.Fatal("two users' MACs of the same data are equal")
	}
	if _, err := w.svc.RotateKey(ctx, admin, keys.UserKeyName("usr_a")); err != nil {
		t.Fatal(err)
	}
	for data, want := range map[string]bool{"hello": true, "hellp": false, "": false} {
		ok, err := w.instance(t).VerifyMAC(ctx, tenant, mac, []byte(data))
		if err != nil || ok != want {
			t.Fatalf("verify %q after rotation: %v, %v", data, ok, err)
		}
	}
	if _, err := w.svc.VerifyMAC(ctx, "ten_other", mac, []byte("hello")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("verify in another tenant: %v", err)
	}
	if _, err := w.svc.VerifyMAC(ctx, tenant, "caas:mac:v1:x", []byte("hello")); !errors.Is(err, keys.ErrInvalidCiphertext) {
		t.Fatalf("verify a malformed MAC: %v", err)
	}
}

func TestListKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, n := range []string{"c", "a", "b"} {
		w.createKey(t, admin, n)
	}
	if _, err := w.svc.EncryptForUser(ctx, admin.TenantID, "usr_a", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	page, more, err := w.svc.ListKeys(ctx, admin, "", 2)
	if err != nil || len(page) != 2 || !more || page[0].Name != "a" || page[1].Name != "b" {
		t.Fatalf("first page: %v more=%v, %v", names(page), more, err)
	}
	page, more, err = w.svc.ListKeys(ctx, admin, "b", 10)
	// The KEK, made for the user's key, is listed; the user's key is not.
	if err != nil || more || strings.Join(names(page), ",") != "c,caas.kek" {
		t.Fatalf("second page: %v more=%v, %v", names(page), more, err)
	}
	if _, _, err := w.svc.ListKeys(ctx, keys.Caller{TenantID: admin.TenantID, Role: keys.RoleUser}, "", 10); !errors.Is(err, keys.ErrNotAdmin) {
		t.Fatalf("a user lists keys: %v", err)
	}
}

func names(ks []keys.Key) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

func TestKEKRotationAndRewrapUserKeys(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tenant := admin.TenantID
	a, err := w.svc.EncryptForUser(ctx, tenant, "usr_a", []byte("before"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RotateKey(ctx, admin, keys.KEKName); err != nil {
		t.Fatal(err)
	}
	// A user key made after the KEK's rotation is wrapped by its new version.
	if _, err := w.svc.EncryptForUser(ctx, tenant, "usr_b", []byte("after"), nil); err != nil {
		t.Fatal(err)
	}
	kb, _ := w.store.Key(ctx, tenant, keys.UserKeyName("usr_b"))
	if kb.Versions[0].WrappedBy != "key:caas.kek:2" {
		t.Fatalf("new user key wrapped by %q", kb.Versions[0].WrappedBy)
	}
	// Retiring KEK v1 while usr_a's key depends on it is refused.
	w.clock.Advance(keys.DefaultMetadataTTL + 2*time.Second)
	two := 2
	if _, err := w.svc.UpdatePolicy(ctx, admin, keys.KEKName, keys.PolicyChange{MinDecryptionVersion: &two}); !errors.Is(err, keys.ErrInvalidPolicy) {
		t.Fatalf("retire a KEK version still in use: %v", err)
	}
	moved, complete, err := w.svc.RewrapUserKeys(ctx)
	if err != nil || moved != 1 || !complete {
		t.Fatalf("rewrap: moved %d, complete %v, %v", moved, complete, err)
	}
	ka, _ := w.store.Key(ctx, tenant, keys.UserKeyName("usr_a"))
	if ka.Versions[0].WrappedBy != "key:caas.kek:2" {
		t.Fatalf("after rewrap usr_a's key is wrapped by %q", ka.Versions[0].WrappedBy)
	}
	if _, err := w.svc.UpdatePolicy(ctx, admin, keys.KEKName, keys.PolicyChange{MinDecryptionVersion: &two}); err != nil {
		t.Fatalf("retire KEK v1 once nothing depends on it: %v", err)
	}
	// The ciphertext made before is unchanged and still opens, in a cold instance too.
	if got, err := w.instance(t).Decrypt(ctx, tenant, a, nil); err != nil || string(got) != "before" {
		t.Fatalf("decrypt after the KEK moved: %q, %v", got, err)
	}
	if moved, _, err := w.svc.RewrapUserKeys(ctx); err != nil || moved != 0 {
		t.Fatalf("second run moved %d, %v", moved, err)
	}
}

func TestAnotherInstanceReadsANewerVersionAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.createKey(t, admin, "docs")
	reader := w.instance(t)
	v1, _, err := w.svc.EncryptAs(ctx, admin, "docs", []byte("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reader.DecryptAs(ctx, admin, v1, nil); err != nil { // the reader now caches v1 only
		t.Fatal(err)
	}
	if _, err := w.svc.RotateKey(ctx, admin, "docs"); err != nil {
		t.Fatal(err)
	}
	v2, ver, err := w.svc.EncryptAs(ctx, admin, "docs", []byte("two"), nil)
	if err != nil || ver != 2 {
		t.Fatalf("encrypt after rotation: v%d, %v", ver, err)
	}
	if got, _, err := reader.DecryptAs(ctx, admin, v2, nil); err != nil || string(got) != "two" {
		t.Fatalf("an instance with a cached key decrypts a newer version: %q, %v", got, err)
	}
}
