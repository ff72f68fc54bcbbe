package kms_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/keys"
	"caas.dev/shared/keys/keystest"
	"caas.dev/shared/kms"
)

// open returns a master key over a new key of the emulator.
func open(t *testing.T) *kms.MasterKey {
	t.Helper()
	endpoint := backendtest.KMSEndpoint(t)
	m, err := kms.Open(context.Background(), backendtest.KMSKey(t, endpoint), endpoint, backendtest.KMSOptions()...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func TestMasterKeyConformance(t *testing.T) {
	// local-kms does not authenticate the key ARN its blobs start with (see keystest.Limits).
	lim := keystest.Limits{UnauthenticatedHeader: true}
	keystest.MasterKeyConformanceWithin(t, lim, func(t *testing.T) keys.MasterKey { return open(t) })
}

func TestBlobOfOneKeyDoesNotOpenUnderAnother(t *testing.T) {
	ctx := context.Background()
	m1, m2 := open(t), open(t)
	ec := map[string]string{"tenant": "t1", "key": "k", "version": "1"}
	_, wrapped, err := m1.GenerateDataKey(ctx, ec)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	if _, err := m2.Decrypt(ctx, wrapped, ec); !errors.Is(err, keys.ErrUnwrap) {
		t.Errorf("Decrypt under another KMS key: err = %v, want ErrUnwrap", err)
	}
	if _, err := m1.Decrypt(ctx, wrapped, ec); err != nil {
		t.Errorf("Decrypt under its own key: %v", err)
	}
}

func TestOpenResolvesAliasAndKeyIDToARN(t *testing.T) {
	ctx := context.Background()
	endpoint := backendtest.KMSEndpoint(t)
	arn := backendtest.KMSKey(t, endpoint)
	cfg, err := config.LoadDefaultConfig(ctx, backendtest.KMSOptions()...)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	client := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = aws.String(endpoint) })
	alias := "alias/caas-test-" + strings.ReplaceAll(backendtest.Prefix(t), "_", "-")
	if _, err := client.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(arn)}); err != nil {
		t.Fatalf("create alias: %v", err)
	}
	t.Cleanup(func() {
		client.DeleteAlias(context.Background(), &awskms.DeleteAliasInput{AliasName: aws.String(alias)}) //nolint:errcheck // cleanup
	})
	keyID := arn[strings.LastIndex(arn, "/")+1:]

	for _, id := range []string{arn, alias, keyID} {
		m, err := kms.Open(ctx, id, endpoint, backendtest.KMSOptions()...)
		if err != nil {
			t.Fatalf("Open(%s): %v", id, err)
		}
		if m.ID() != arn {
			t.Errorf("Open(%s).ID() = %q, want the key ARN %q", id, m.ID(), arn)
		}
	}

	// A blob made through the alias opens through the ARN: both name one key.
	viaAlias, err := kms.Open(ctx, alias, endpoint, backendtest.KMSOptions()...)
	if err != nil {
		t.Fatalf("Open(alias): %v", err)
	}
	viaID, err := kms.Open(ctx, keyID, endpoint, backendtest.KMSOptions()...)
	if err != nil {
		t.Fatalf("Open(key id): %v", err)
	}
	plain, wrapped, err := viaAlias.GenerateDataKey(ctx, nil)
	if err != nil {
		t.Fatalf("GenerateDataKey: %v", err)
	}
	got, err := viaID.Decrypt(ctx, wrapped, nil)
	if err != nil || string(got) != string(plain) {
		t.Errorf("Decrypt through the key id: err = %v, same key = %v", err, string(got) == string(plain))
	}
}

func TestOpenFailsForUnknownKey(t *testing.T) {
	endpoint := backendtest.KMSEndpoint(t)
	if _, err := kms.Open(context.Background(), "alias/caas-no-such-key", endpoint, backendtest.KMSOptions()...); err == nil {
		t.Error("Open of an unknown alias succeeded")
	}
	if _, err := kms.Open(context.Background(), "", endpoint, backendtest.KMSOptions()...); err == nil {
		t.Error("Open of an empty key id succeeded")
	}
}
