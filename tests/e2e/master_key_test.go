package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	driver "go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestMasterKeyWrapsTheDataKeys checks what the platform's keys are stored under: a tenant key
// (here the KEK, made for the first user key) wrapped by the master key the run was given - the
// KMS key when a KMS is configured (make test-real), else the local key file that `caas run`
// created with mode 0600 - and users' keys wrapped by the tenant's KEK, never in plain form.
func TestMasterKeyWrapsTheDataKeys(t *testing.T) {
	w := getWorld(t)
	c := api()
	conv := createConversation(t, c, w.alice, "direct", "", w.bob.id)
	mustSend(t, c, w.alice, conv, "master-key-"+suffix, "wrapped all the way down")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := driver.Connect(ctx, options.Client().ApplyURI(backendsOf(t, the).MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	cur, err := client.Database("caas_crypto").Collection("key_versions").Find(ctx, bson.D{{Key: "tenant_id", Value: w.a.id}})
	if err != nil {
		t.Fatal(err)
	}
	var versions []struct {
		Name      string `bson:"name"`
		Wrapped   []byte `bson:"wrapped"`
		WrappedBy string `bson:"wrapped_by"`
	}
	if err := cur.All(ctx, &versions); err != nil {
		t.Fatal(err)
	}

	wantMaster := "master:file:"
	if the.kmsKeyARN != "" {
		wantMaster = "master:" + the.kmsKeyARN
	}
	var kek, userKey bool
	for _, v := range versions {
		switch {
		case v.Name == "caas.kek":
			kek = true
			if !strings.HasPrefix(v.WrappedBy, wantMaster) {
				t.Errorf("the KEK is wrapped by %q, want %s", v.WrappedBy, wantMaster)
			}
		case v.Name == "caas.user."+w.alice.id:
			userKey = true
			if !strings.HasPrefix(v.WrappedBy, "key:caas.kek:") {
				t.Errorf("alice's key is wrapped by %q, want the tenant's KEK", v.WrappedBy)
			}
		}
		if len(v.Wrapped) <= 32 {
			t.Errorf("%s: a %d-byte wrapped key cannot hold a 32-byte key, a nonce and a tag", v.Name, len(v.Wrapped))
		}
	}
	if !kek || !userKey {
		t.Fatalf("tenant A's stored key versions lack the KEK (%v) or alice's key (%v): %d versions", kek, userKey, len(versions))
	}

	if the.kmsKeyARN == "" {
		fi, err := os.Stat(filepath.Join(the.stateDir, "master.key"))
		if err != nil {
			t.Fatalf("caas run made no master key file: %v", err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("master key file mode %v, want 0600", fi.Mode().Perm())
		}
	}
}
