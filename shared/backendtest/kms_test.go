package backendtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

func TestKMSEndpointServesKeys(t *testing.T) {
	endpoint := KMSEndpoint(t)
	if again := KMSEndpoint(t); again != endpoint {
		t.Fatalf("second KMSEndpoint = %q, want the shared %q", again, endpoint)
	}
	if os.Getenv(KMSEnv) == "" {
		u, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("parse endpoint %q: %v", endpoint, err)
		}
		if u.Hostname() != "127.0.0.1" {
			t.Errorf("the emulator listens on %s, want loopback only", u.Host)
		}
	}

	arn1, arn2 := KMSKey(t, endpoint), KMSKey(t, endpoint)
	if !strings.HasPrefix(arn1, "arn:aws:kms:") || arn1 == arn2 {
		t.Fatalf("KMSKey returned %q and %q, want two distinct key ARNs", arn1, arn2)
	}
	ctx := context.Background()
	client, err := kmsClient(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(arn1), Plaintext: []byte("x")})
	if err != nil {
		t.Fatalf("encrypt under the new key: %v", err)
	}
	if _, err := client.Decrypt(ctx, &awskms.DecryptInput{KeyId: aws.String(arn2), CiphertextBlob: out.CiphertextBlob}); err == nil {
		t.Error("a blob of one key decrypted under the other")
	}
}
