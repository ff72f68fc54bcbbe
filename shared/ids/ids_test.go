package ids

import (
	"sort"
	"testing"
	"time"
)

func TestIDsSortByTime(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var got []string
	for i := 0; i < 50; i++ {
		got = append(got, Make(User, base.Add(time.Duration(49-i)*time.Millisecond), nil))
	}
	sorted := append([]string(nil), got...)
	sort.Strings(sorted)
	for i := range sorted {
		if sorted[i] != got[49-i] {
			t.Fatalf("id %d out of time order: %v", i, sorted)
		}
	}
}

func TestValid(t *testing.T) {
	id := Random{}.New(Conversation)
	cases := []struct {
		prefix, id string
		want       bool
	}{
		{Conversation, id, true},
		{User, id, false},
		{Conversation, id[:len(id)-1], false},
		{Conversation, id[:len(id)-1] + "U", false},
		{Conversation, "cnv-" + id[4:], false},
		{Conversation, "", false},
	}
	for _, c := range cases {
		if got := Valid(c.prefix, c.id); got != c.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", c.prefix, c.id, got, c.want)
		}
	}
}

func TestMakeIsDeterministicGivenEntropy(t *testing.T) {
	at := time.UnixMilli(1700000000000)
	e := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if a, b := Make(Message, at, e), Make(Message, at, e); a != b {
		t.Fatalf("same inputs gave %s and %s", a, b)
	}
}
