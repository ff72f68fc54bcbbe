package keys_test

import (
	"bytes"
	"context"
	"testing"

	"caas.dev/shared/fault"
	"caas.dev/shared/keys"
)

// FuzzDecrypt feeds arbitrary strings to Decrypt: it must never panic, never answer with an
// internal error, and never open anything but the ciphertexts it made, to their plaintexts.
func FuzzDecrypt(f *testing.F) {
	w := newWorld(f)
	ctx := context.Background()
	if _, err := w.svc.CreateKey(ctx, admin, keys.NewKey{Name: "fuzz"}); err != nil {
		f.Fatal(err)
	}
	made := map[string][]byte{}
	for _, pt := range []string{"", "a", "hello, world", string(bytes.Repeat([]byte{0xff}, 100))} {
		ct, _, err := w.svc.EncryptAs(ctx, admin, "fuzz", []byte(pt), nil)
		if err != nil {
			f.Fatal(err)
		}
		made[ct] = []byte(pt)
		f.Add(ct)
	}
	f.Add("caas:v1:fuzz:1:")
	f.Add("caas:v1:fuzz:999999999:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("caas:v1:caas.kek:1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("caas:v1::1:x")
	f.Add(":::::")
	f.Fuzz(func(t *testing.T, ct string) {
		pt, err := w.svc.Decrypt(ctx, admin.TenantID, ct, nil)
		if err == nil {
			want, ok := made[ct]
			if !ok || !bytes.Equal(pt, want) {
				t.Fatalf("%q opened to %q", ct, pt)
			}
			return
		}
		if fe := fault.As(err); fe == nil || fe.Kind == fault.Internal {
			t.Fatalf("%q: %v is not a client error", ct, err)
		}
	})
}
