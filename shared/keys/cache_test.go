package keys

import (
	"testing"
	"time"
)

func TestDataKeyCacheBounds(t *testing.T) {
	c := newDataKeyCache(2, time.Minute)
	now := time.Now()
	m := &material{}
	a, b, d := versionID{"t", "a", 1}, versionID{"t", "b", 1}, versionID{"t", "d", 1}
	c.put(a, m, now)
	c.put(b, m, now)
	if _, ok := c.get(a, now); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put(d, m, now)
	if c.len() != 2 {
		t.Fatalf("%d entries, want 2", c.len())
	}
	if _, ok := c.get(b, now); ok {
		t.Fatal("the least recently used entry was kept")
	}
	if _, ok := c.get(a, now.Add(time.Minute)); ok {
		t.Fatal("an entry outlived its age")
	}
	c.forget("t", "d")
	if _, ok := c.get(d, now); ok || c.len() != 0 {
		t.Fatalf("forget left %d entries", c.len())
	}
}

func TestParseCiphertextForms(t *testing.T) {
	good := "caas:v1:docs:12:" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	h, sealed, err := ParseCiphertext(good)
	if err != nil || h.Name != "docs" || h.Version != 12 || len(sealed) != 28 {
		t.Fatalf("%+v %d %v", h, len(sealed), err)
	}
	for _, bad := range []string{
		"vault:v1:AAAA", "caas:v1:docs:0:" + good[16:], "caas:v1:docs:-1:" + good[16:],
		"caas:v1:Docs:1:" + good[16:], "caas:v1:docs:1:" + good[16:] + "!", "caas:v1:docs:1",
		"caas:v1:docs:1234567890:" + good[16:], "caas:v1:docs:1:" + good[16:30],
	} {
		if _, _, err := ParseCiphertext(bad); err != ErrInvalidCiphertext {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if got := formatCiphertext(h, sealed); got != good {
		t.Fatalf("format: %q", got)
	}
}
