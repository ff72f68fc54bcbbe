package keys_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"caas.dev/shared/keys"
)

// BenchmarkCrypto measures encrypt and decrypt through the service with a warm key cache next
// to raw AES-256-GCM (crypto/cipher) on the same sizes. Each service line reports x_raw: its
// time per operation divided by the raw cipher's.
func BenchmarkCrypto(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	raw, _ := cipher.NewGCM(block)
	aad := []byte("caas:v1\x00ten_a\x00bench\x001\x00ctx")

	for _, size := range []int{1 << 10, 64 << 10} {
		pt := make([]byte, size)
		rand.Read(pt)
		label := fmt.Sprintf("%dKiB", size>>10)
		nonce := make([]byte, 12)
		sealed := raw.Seal(nil, nonce, pt, aad)
		ct, err := w.svc.Encrypt(ctx, admin.TenantID, "bench", pt, []byte("ctx"))
		if err != nil {
			b.Fatal(err)
		}
		// The raw lines run first; each keeps its time per operation (of its last, longest
		// round) for the service line after it to divide by.
		var rawSeal, rawOpen float64
		perOp := func(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

		b.Run("raw-gcm-seal/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				rand.Read(nonce)
				sealed = raw.Seal(sealed[:0], nonce, pt, aad)
			}
			rawSeal = perOp(b)
		})
		b.Run("encrypt/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := w.svc.Encrypt(ctx, admin.TenantID, "bench", pt, []byte("ctx")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perOp(b)/rawSeal, "x_raw")
		})
		b.Run("raw-gcm-open/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			rand.Read(nonce)
			sealed = raw.Seal(sealed[:0], nonce, pt, aad)
			out := make([]byte, 0, size)
			for b.Loop() {
				if out, err = raw.Open(out[:0], nonce, sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
			rawOpen = perOp(b)
		})
		b.Run("decrypt/"+label, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := w.svc.Decrypt(ctx, admin.TenantID, ct, []byte("ctx")); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(perOp(b)/rawOpen, "x_raw")
		})
	}
}

// BenchmarkColdKey measures what a data key costs the first time an instance uses it: the
// master key's unwrap alone, and a whole first decrypt of a tenant key (metadata read from the
// store, unwrap, open) and of a user's key (the KEK's unwrap by the master key, then the user
// key's by the KEK).
func BenchmarkColdKey(b *testing.B) {
	w := newWorld(b)
	ctx := context.Background()
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	ct, err := w.svc.Encrypt(ctx, admin.TenantID, "bench", []byte("1 KiB or less"), nil)
	if err != nil {
		b.Fatal(err)
	}
	userCT, err := w.svc.EncryptForUser(ctx, admin.TenantID, "usr_bench", []byte("hi"), nil)
	if err != nil {
		b.Fatal(err)
	}
	k, err := w.store.Key(ctx, admin.TenantID, "bench")
	if err != nil {
		b.Fatal(err)
	}
	encCtx := map[string]string{"tenant_id": admin.TenantID, "key": "bench", "version": "1"}

	b.Run("master-unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := w.master.Decrypt(ctx, k.Versions[0].Wrapped, encCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-decrypt/tenant-key", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			svc := w.instance(b)
			b.StartTimer()
			if _, err := svc.Decrypt(ctx, admin.TenantID, ct, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-decrypt/user-key", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			svc := w.instance(b)
			b.StartTimer()
			if _, err := svc.Decrypt(ctx, admin.TenantID, userCT, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
