package mongo

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"caas.dev/shared/ids"
	"caas.dev/shared/keys"
)

// keyT0 has nanoseconds, so every test also checks the store's millisecond truncation.
var keyT0 = time.Date(2026, 5, 1, 10, 0, 0, 123456789, time.UTC)

// testKey is a key with version 1 made at at, wrapped by the master key.
func testKey(tenantID, name, owner string, at time.Time, period time.Duration) keys.Key {
	return keys.Key{
		TenantID: tenantID, Name: name, Owner: owner,
		Versions: []keys.Version{testVersion(1, at, "master:local")},
		Policy: keys.Policy{MinDecryptionVersion: 1, RotationPeriod: period,
			EncryptRoles: []string{keys.RoleAdmin, keys.RoleUser}, DecryptRoles: []string{keys.RoleAdmin}},
		CreatedAt: at, UpdatedAt: at,
	}
}

// testVersion is version v with a wrapped key that holds a zero byte, as real ones may.
func testVersion(v int, at time.Time, wrappedBy string) keys.Version {
	return keys.Version{Version: v, Wrapped: []byte{0, byte(v), 0xff, 0, 'w'}, WrappedBy: wrappedBy, CreatedAt: at}
}

func newTenant() string { return ids.Random{}.New(ids.Tenant) }

func mustCreate(t *testing.T, s *KeyStore, k keys.Key) {
	t.Helper()
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatalf("create %s: %v", k.Name, err)
	}
}

func mustKey(t *testing.T, s *KeyStore, tenantID, name string) keys.Key {
	t.Helper()
	k, err := s.Key(t.Context(), tenantID, name)
	if err != nil {
		t.Fatalf("key %s: %v", name, err)
	}
	return k
}

func versionNumbers(k keys.Key) []int {
	var out []int
	for _, v := range k.Versions {
		out = append(out, v.Version)
	}
	return out
}

func refNames(refs []keys.KeyRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.TenantID+"/"+r.Name)
	}
	return out
}

func TestKeyStoreCreateAndGet(t *testing.T) {
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	want := testKey(tenant, "orders", "", keyT0, 24*time.Hour)
	mustCreate(t, s, want)

	got := mustKey(t, s, tenant, "orders")
	at := keyT0.Truncate(time.Millisecond)
	if got.TenantID != tenant || got.Name != "orders" || got.Owner != "" {
		t.Fatalf("identity = %q %q %q", got.TenantID, got.Name, got.Owner)
	}
	if !got.CreatedAt.Equal(at) || !got.UpdatedAt.Equal(at) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("times = %v %v, want %v UTC", got.CreatedAt, got.UpdatedAt, at)
	}
	if !got.ShreddedAt.IsZero() {
		t.Fatalf("ShreddedAt = %v on a fresh key", got.ShreddedAt)
	}
	if got.MinDecryptionVersion != 1 || got.RotationPeriod != 24*time.Hour ||
		!slices.Equal(got.EncryptRoles, want.EncryptRoles) || !slices.Equal(got.DecryptRoles, want.DecryptRoles) {
		t.Fatalf("policy = %+v, want %+v", got.Policy, want.Policy)
	}
	if len(got.Versions) != 1 {
		t.Fatalf("versions = %v", versionNumbers(got))
	}
	v := got.Versions[0]
	if v.Version != 1 || !bytes.Equal(v.Wrapped, want.Versions[0].Wrapped) || v.WrappedBy != "master:local" || !v.CreatedAt.Equal(at) {
		t.Fatalf("version 1 = %+v", v)
	}
	if !got.NextRotation().Equal(at.Add(24 * time.Hour)) {
		t.Fatalf("NextRotation = %v", got.NextRotation())
	}

	if _, err := s.Key(t.Context(), tenant, "missing"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Key(missing) = %v, want ErrKeyNotFound", err)
	}
	if _, err := s.Key(t.Context(), newTenant(), "orders"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Key of another tenant's name = %v, want ErrKeyNotFound", err)
	}
	other := newTenant()
	if err := s.AddVersion(t.Context(), other, "orders", testVersion(2, keyT0, "master:local")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("AddVersion on another tenant's name = %v, want ErrKeyNotFound", err)
	}
	if err := s.SetPolicy(t.Context(), other, "orders", keys.Policy{}, keyT0); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("SetPolicy on another tenant's name = %v, want ErrKeyNotFound", err)
	}
	if err := s.Shred(t.Context(), other, "orders", keyT0); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Shred on another tenant's name = %v, want ErrKeyNotFound", err)
	}
	if err := s.RewrapVersion(t.Context(), other, "orders", 1, []byte{1}, "master:x"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("RewrapVersion on another tenant's name = %v, want ErrKeyNotFound", err)
	}
	if got := mustKey(t, s, tenant, "orders"); len(got.Versions) != 1 || !got.ShreddedAt.IsZero() || got.Versions[0].WrappedBy != "master:local" {
		t.Fatalf("another tenant's calls changed the key: %+v", got)
	}
}

func TestKeyStoreDuplicateName(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	mustCreate(t, s, testKey(tenant, "orders", "", keyT0, 0))
	if err := s.CreateKey(ctx, testKey(tenant, "orders", "", keyT0.Add(time.Hour), 0)); !errors.Is(err, keys.ErrKeyExists) {
		t.Fatalf("second create = %v, want ErrKeyExists", err)
	}
	// Another tenant may use the name.
	mustCreate(t, s, testKey(newTenant(), "orders", "", keyT0, 0))

	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := testKey(tenant, "race", "", keyT0, 0)
			k.Versions[0].WrappedBy = fmt.Sprintf("master:m%d", i)
			errs[i] = s.CreateKey(ctx, k)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("creators %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, keys.ErrKeyExists):
			t.Fatalf("creator %d: %v, want ErrKeyExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no creator won")
	}
	got := mustKey(t, s, tenant, "race")
	if len(got.Versions) != 1 || got.Versions[0].WrappedBy != fmt.Sprintf("master:m%d", winner) {
		t.Fatalf("stored versions %+v, winner %d", got.Versions, winner)
	}
}

func TestKeyStoreListKeys(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant, other := newTenant(), newTenant()
	for _, name := range []string{"echo", "alpha", "delta", "bravo", "charlie"} {
		mustCreate(t, s, testKey(tenant, name, "", keyT0, 0))
	}
	mustCreate(t, s, testKey(tenant, keys.UserKeyName("u1"), "u1", keyT0, 0))
	mustCreate(t, s, testKey(other, "alpha2", "", keyT0, 0))
	mustCreate(t, s, testKey(other, "zulu", "", keyT0, 0))

	var pages [][]string
	after := ""
	for range 5 {
		page, err := s.ListKeys(ctx, tenant, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, k := range page {
			if k.TenantID != tenant || k.Owner != "" || len(k.Versions) != 1 {
				t.Fatalf("listed %+v", k)
			}
			names = append(names, k.Name)
		}
		pages = append(pages, names)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].Name
	}
	want := [][]string{{"alpha", "bravo"}, {"charlie", "delta"}, {"echo"}}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Fatalf("pages = %v, want %v", pages, want)
	}
	page, err := s.ListKeys(ctx, tenant, "", 100)
	if err != nil || len(page) != 5 {
		t.Fatalf("one page = %d keys, %v", len(page), err)
	}
}

func TestKeyStoreConcurrentAddVersion(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	mustCreate(t, s, testKey(tenant, "orders", "", keyT0, time.Hour))

	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AddVersion(ctx, tenant, "orders", testVersion(2, keyT0.Add(time.Minute), "master:local"))
		}()
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, keys.ErrVersionExists) {
			t.Fatalf("adder %d: %v, want ErrVersionExists", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d adders succeeded, want 1", ok)
	}
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(4, keyT0, "master:local")); err == nil || errors.Is(err, keys.ErrVersionExists) {
		t.Fatalf("version 4 after 2 = %v, want a gap error", err)
	}
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(1, keyT0, "master:local")); !errors.Is(err, keys.ErrVersionExists) {
		t.Fatalf("version 1 again = %v, want ErrVersionExists", err)
	}
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(3, keyT0.Add(2*time.Minute), "master:local")); err != nil {
		t.Fatal(err)
	}
	if err := s.AddVersion(ctx, tenant, "nope", testVersion(2, keyT0, "master:local")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("AddVersion of a missing key = %v", err)
	}
	got := mustKey(t, s, tenant, "orders")
	if !slices.Equal(versionNumbers(got), []int{1, 2, 3}) || got.Primary() != 3 {
		t.Fatalf("versions = %v", versionNumbers(got))
	}
	// The rotation hint follows the newest version.
	due, err := s.DueForRotation(ctx, keyT0.Add(time.Hour+time.Minute), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due before the newest version's period = %v, %v", refNames(due), err)
	}
	due, err = s.DueForRotation(ctx, keyT0.Add(time.Hour+2*time.Minute), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due after the newest version's period = %v, %v", refNames(due), err)
	}
}

func TestKeyStoreSetPolicy(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	mustCreate(t, s, testKey(tenant, "orders", "", keyT0, 0))
	p := keys.Policy{MinDecryptionVersion: 2, RotationPeriod: 90 * time.Minute,
		EncryptRoles: []string{keys.RoleAdmin}, DecryptRoles: []string{keys.RoleAdmin, keys.RoleUser}}
	at := keyT0.Add(time.Hour)
	if err := s.SetPolicy(ctx, tenant, "orders", p, at); err != nil {
		t.Fatal(err)
	}
	got := mustKey(t, s, tenant, "orders")
	if got.MinDecryptionVersion != 2 || got.RotationPeriod != 90*time.Minute ||
		!slices.Equal(got.EncryptRoles, p.EncryptRoles) || !slices.Equal(got.DecryptRoles, p.DecryptRoles) {
		t.Fatalf("policy = %+v, want %+v", got.Policy, p)
	}
	if !got.UpdatedAt.Equal(at.Truncate(time.Millisecond)) || !got.CreatedAt.Equal(keyT0.Truncate(time.Millisecond)) {
		t.Fatalf("times = %v %v", got.CreatedAt, got.UpdatedAt)
	}
	// The new period takes effect for the scheduled rotation.
	due, err := s.DueForRotation(ctx, keyT0.Add(90*time.Minute), 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due after the new period = %v, %v", refNames(due), err)
	}
	if err := s.SetPolicy(ctx, tenant, "nope", p, at); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("SetPolicy of a missing key = %v", err)
	}
}

func TestKeyStoreShred(t *testing.T) {
	ctx := t.Context()
	c := openChatTestClient(t)
	s := c.Keys()
	tenant := newTenant()
	mustCreate(t, s, testKey(tenant, "orders", "", keyT0, time.Hour))
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(2, keyT0, "master:local")); err != nil {
		t.Fatal(err)
	}
	at := keyT0.Add(time.Hour)
	if err := s.Shred(ctx, tenant, "orders", at); err != nil {
		t.Fatal(err)
	}
	got := mustKey(t, s, tenant, "orders")
	if len(got.Versions) != 0 || !got.ShreddedAt.Equal(at.Truncate(time.Millisecond)) || got.Primary() != 0 {
		t.Fatalf("shredded key = %+v", got)
	}
	n, err := s.versions.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenant}})
	if err != nil || n != 0 {
		t.Fatalf("%d version documents left, %v", n, err)
	}
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(3, keyT0, "master:local")); !errors.Is(err, keys.ErrKeyShredded) {
		t.Fatalf("AddVersion after shred = %v, want ErrKeyShredded", err)
	}
	if err := s.CreateKey(ctx, testKey(tenant, "orders", "", keyT0, 0)); !errors.Is(err, keys.ErrKeyExists) {
		t.Fatalf("CreateKey after shred = %v, want ErrKeyExists", err)
	}
	if err := s.Shred(ctx, tenant, "orders", at.Add(time.Hour)); err != nil {
		t.Fatalf("second shred: %v", err)
	}
	if got := mustKey(t, s, tenant, "orders"); !got.ShreddedAt.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("second shred moved ShreddedAt to %v", got.ShreddedAt)
	}
	if err := s.Shred(ctx, tenant, "nope", at); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Shred of a missing key = %v", err)
	}
	if due, err := s.DueForRotation(ctx, at.Add(24*time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("shredded key due for rotation: %v, %v", refNames(due), err)
	}
	page, err := s.ListKeys(ctx, tenant, "", 10)
	if err != nil || len(page) != 1 || page[0].ShreddedAt.IsZero() || len(page[0].Versions) != 0 {
		t.Fatalf("list after shred = %+v, %v", page, err)
	}
}

// A version added while the key is being shredded never survives the shred.
func TestKeyStoreShredRacesAddVersion(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	for i := range 15 {
		name := fmt.Sprintf("k%d", i)
		mustCreate(t, s, testKey(tenant, name, "", keyT0, 0))
		var wg sync.WaitGroup
		var addErrs [3]error
		for j := range addErrs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addErrs[j] = s.AddVersion(ctx, tenant, name, testVersion(2+j, keyT0, "master:local"))
			}()
		}
		var shredErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			shredErr = s.Shred(ctx, tenant, name, keyT0)
		}()
		wg.Wait()
		if shredErr != nil {
			t.Fatalf("shred %s: %v", name, shredErr)
		}
		for _, err := range addErrs {
			if err != nil && !errors.Is(err, keys.ErrKeyShredded) && !errors.Is(err, keys.ErrVersionExists) {
				// A gap refusal is also possible for versions 3 and 4; anything else is not.
				if !strings.Contains(err.Error(), "its newest is") {
					t.Fatalf("AddVersion during shred: %v", err)
				}
			}
		}
		n, err := s.versions.CountDocuments(ctx, bson.D{{Key: "tenant_id", Value: tenant}, {Key: "name", Value: name}})
		if err != nil || n != 0 {
			t.Fatalf("%s: %d versions survived the shred, %v", name, n, err)
		}
	}
}

// A creator that stopped after the key document leaves a half-created key: absent to readers,
// completed by the retried CreateKey.
func TestKeyStoreHalfCreatedKey(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	tenant := newTenant()
	half := keyDoc{ID: keyID(tenant, "orders"), TenantID: tenant, Name: "orders", MinDecryptionVersion: 1,
		EncryptRoles: []string{}, DecryptRoles: []string{}, CreatedAt: keyT0, UpdatedAt: keyT0}
	if _, err := s.keys.InsertOne(ctx, half); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Key(ctx, tenant, "orders"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("Key of a half-created key = %v, want ErrKeyNotFound", err)
	}
	if err := s.AddVersion(ctx, tenant, "orders", testVersion(2, keyT0, "master:local")); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("AddVersion of a half-created key = %v, want ErrKeyNotFound", err)
	}
	if page, err := s.ListKeys(ctx, tenant, "", 10); err != nil || len(page) != 0 {
		t.Fatalf("list shows a half-created key: %+v, %v", page, err)
	}
	// Another owner's creation does not take it over.
	if err := s.CreateKey(ctx, testKey(tenant, "orders", "u1", keyT0, 0)); !errors.Is(err, keys.ErrKeyExists) {
		t.Fatalf("create by another owner = %v, want ErrKeyExists", err)
	}
	mustCreate(t, s, testKey(tenant, "orders", "", keyT0, 2*time.Hour))
	got := mustKey(t, s, tenant, "orders")
	if len(got.Versions) != 1 || got.RotationPeriod != 2*time.Hour || len(got.EncryptRoles) != 2 {
		t.Fatalf("completed key = %+v", got)
	}
	if err := s.CreateKey(ctx, testKey(tenant, "orders", "", keyT0, 0)); !errors.Is(err, keys.ErrKeyExists) {
		t.Fatalf("create after completion = %v, want ErrKeyExists", err)
	}
}

func TestKeyStoreDueForRotation(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	a, b := newTenant(), newTenant()
	mustCreate(t, s, testKey(a, "hourly", "", keyT0, time.Hour))
	mustCreate(t, s, testKey(a, "manual", "", keyT0, 0))
	mustCreate(t, s, testKey(a, "daily", "", keyT0, 24*time.Hour))
	mustCreate(t, s, testKey(a, "gone", "", keyT0, time.Hour))
	mustCreate(t, s, testKey(b, "hourly", "", keyT0.Add(10*time.Minute), time.Hour))
	if err := s.Shred(ctx, a, "gone", keyT0); err != nil {
		t.Fatal(err)
	}

	due, err := s.DueForRotation(ctx, keyT0.Add(59*time.Minute), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("due at 59m = %v, %v", refNames(due), err)
	}
	due, err = s.DueForRotation(ctx, keyT0.Add(2*time.Hour), 10)
	want := []string{a + "/hourly", b + "/hourly"}
	if err != nil || fmt.Sprint(refNames(due)) != fmt.Sprint(want) {
		t.Fatalf("due at 2h = %v, %v; want %v", refNames(due), err, want)
	}
	due, err = s.DueForRotation(ctx, keyT0.Add(2*time.Hour), 1)
	if err != nil || len(due) != 1 || due[0].TenantID != a {
		t.Fatalf("due with limit 1 = %v, %v", refNames(due), err)
	}

	// An early hint is corrected, not returned.
	early := keyT0
	if err := s.setRotationHint(ctx, keyID(a, "daily"), &early); err != nil {
		t.Fatal(err)
	}
	due, err = s.DueForRotation(ctx, keyT0.Add(2*time.Hour), 10)
	if err != nil || fmt.Sprint(refNames(due)) != fmt.Sprint(want) {
		t.Fatalf("due with an early hint = %v, %v", refNames(due), err)
	}
	d, err := s.keyDoc(ctx, a, "daily")
	if err != nil || d.NextRotationAt == nil || !d.NextRotationAt.Equal(keyT0.Add(24*time.Hour).Truncate(time.Millisecond)) {
		t.Fatalf("hint after repair = %v, %v", d.NextRotationAt, err)
	}
}

func TestKeyStoreWrappedByAndRewrap(t *testing.T) {
	ctx := t.Context()
	s := openChatTestClient(t).Keys()
	a, b := newTenant(), newTenant()
	for _, tenant := range []string{a, b} {
		mustCreate(t, s, testKey(tenant, keys.KEKName, "", keyT0, 0))
		if err := s.AddVersion(ctx, tenant, keys.KEKName, testVersion(2, keyT0, "master:local")); err != nil {
			t.Fatal(err)
		}
	}
	user := func(tenant, id, wrappedBy string) {
		k := testKey(tenant, keys.UserKeyName(id), id, keyT0, 0)
		k.Versions[0].WrappedBy = wrappedBy
		mustCreate(t, s, k)
	}
	user(a, "u1", "key:caas.kek:1")
	user(a, "u2", "key:caas.kek:2")
	user(a, "u3", "master:local")
	user(b, "u4", "key:caas.kek:1")
	if err := s.AddVersion(ctx, a, keys.UserKeyName("u1"), testVersion(2, keyT0, "key:caas.kek:1")); err != nil {
		t.Fatal(err)
	}

	check := func(below, limit int, want ...string) {
		t.Helper()
		got, err := s.WrappedBy(ctx, a, keys.KEKName, below, limit)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range got {
			if r.TenantID != a {
				t.Fatalf("WrappedBy returned another tenant's key %v", r)
			}
			names = append(names, r.Name)
		}
		if fmt.Sprint(names) != fmt.Sprint(want) {
			t.Fatalf("WrappedBy(below %d, limit %d) = %v, want %v", below, limit, names, want)
		}
	}
	check(2, 10, "caas.user.u1")
	check(3, 10, "caas.user.u1", "caas.user.u2")
	check(3, 1, "caas.user.u1")
	check(1, 10)

	newWrapped := []byte{0, 9, 9, 0}
	for v := 1; v <= 2; v++ {
		if err := s.RewrapVersion(ctx, a, keys.UserKeyName("u1"), v, newWrapped, "key:caas.kek:2"); err != nil {
			t.Fatal(err)
		}
	}
	check(2, 10)
	got := mustKey(t, s, a, keys.UserKeyName("u1"))
	for _, v := range got.Versions {
		if !bytes.Equal(v.Wrapped, newWrapped) || v.WrappedBy != "key:caas.kek:2" {
			t.Fatalf("rewrapped version = %+v", v)
		}
	}
	// Rewrapped by the master key, a version no longer counts as wrapped by the KEK.
	if err := s.RewrapVersion(ctx, a, keys.UserKeyName("u2"), 1, newWrapped, "master:other"); err != nil {
		t.Fatal(err)
	}
	check(3, 10, "caas.user.u1")
	if err := s.RewrapVersion(ctx, a, keys.UserKeyName("u2"), 5, newWrapped, "master:other"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("rewrap of a missing version = %v", err)
	}
	if err := s.RewrapVersion(ctx, b, keys.UserKeyName("u1"), 1, newWrapped, "master:other"); !errors.Is(err, keys.ErrKeyNotFound) {
		t.Fatalf("rewrap of another tenant's key = %v", err)
	}
	if err := s.RewrapVersion(ctx, a, keys.UserKeyName("u1"), 1, newWrapped, "key:bad"); err == nil {
		t.Fatal("rewrap with a malformed wrapper was accepted")
	}
}
