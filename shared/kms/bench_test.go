package kms_test

import (
	"context"
	"testing"

	"caas.dev/shared/backendtest"
	"caas.dev/shared/kms"
)

// BenchmarkUnwrap measures a cold data key's master-key step through KMS: one Decrypt call over
// HTTP to the emulator on loopback (a real KMS adds the network round trip to its region).
func BenchmarkUnwrap(b *testing.B) {
	ctx := context.Background()
	endpoint := backendtest.KMSEndpoint(b)
	m, err := kms.Open(ctx, backendtest.KMSKey(b, endpoint), endpoint, backendtest.KMSOptions()...)
	if err != nil {
		b.Fatal(err)
	}
	ec := map[string]string{"tenant_id": "ten_bench", "key": "bench", "version": "1"}
	_, wrapped, err := m.GenerateDataKey(ctx, ec)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Decrypt(ctx, wrapped, ec); err != nil {
			b.Fatal(err)
		}
	}
}
