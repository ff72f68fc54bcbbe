// Package mongotest gives tests the pieces most of them open first: a migrated client on the
// test MongoDB (backendtest) under a prefix of the test's own, and a key service on it whose
// master key is a file in the test's temporary directory.
package mongotest

import (
	"context"
	"path/filepath"
	"testing"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/keys"
	"caas.dev/shared/mongo"
)

// Open returns a client on backendtest's MongoDB with databases named under a fresh
// backendtest.Prefix, migrated. It is closed, and its databases dropped, when the test ends.
func Open(t testing.TB) *mongo.Client {
	t.Helper()
	ctx := context.Background()
	db, err := mongo.OpenWithPrefix(ctx, backendtest.MongoURI(t), backendtest.Prefix(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// FileMaster returns a master key kept in a file of the test's temporary directory.
func FileMaster(t testing.TB) *keys.FileMaster {
	t.Helper()
	master, err := keys.OpenFileMaster(filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	return master
}

// Keys returns a key service on db's key store under a FileMaster, on the system clock.
func Keys(t testing.TB, db *mongo.Client) *keys.Service {
	t.Helper()
	ks, err := keys.New(keys.Config{Store: db.Keys(), Master: FileMaster(t)})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}
