package chat

import (
	"encoding/base64"
	"errors"
	"math"
	"testing"

	"caas.dev/shared/ids"
)

func TestConversationCursorRoundTrip(t *testing.T) {
	id := ids.Random{}.New(ids.Conversation)
	got, err := decodeConversationCursor(encodeConversationCursor(id))
	if err != nil || got != id {
		t.Fatalf("round trip = %q, %v; want %q", got, err, id)
	}
}

func TestMessageCursorRoundTrip(t *testing.T) {
	conv := ids.Random{}.New(ids.Conversation)
	for _, tt := range []struct {
		forward bool
		seq     int64
	}{{true, 0}, {true, 41}, {false, 1}, {false, 9000}, {true, math.MaxInt64 - 1}} {
		fwd, seq, err := decodeMessageCursor(encodeMessageCursor(conv, tt.forward, tt.seq), conv)
		if err != nil || fwd != tt.forward || seq != tt.seq {
			t.Errorf("round trip of (%v, %d) = (%v, %d), %v", tt.forward, tt.seq, fwd, seq, err)
		}
	}
}

func TestCursorTamperedIsInvalid(t *testing.T) {
	conv := ids.Random{}.New(ids.Conversation)
	other := ids.Random{}.New(ids.Conversation)
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	valid := encodeMessageCursor(conv, true, 5)

	msgCursors := []struct{ name, cursor string }{
		{"not base64", "%%%"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte(`{"c":"` + conv + `","d":"a","s":5}`))},
		{"standard alphabet", "+/"},
		{"not JSON", raw("hello")},
		{"truncated", valid[:len(valid)-3]},
		{"trailing value", raw(`{"c":"` + conv + `","d":"a","s":5}{}`)},
		{"unknown field", raw(`{"c":"` + conv + `","d":"a","s":5,"x":1}`)},
		{"unknown direction", raw(`{"c":"` + conv + `","d":"z","s":5}`)},
		{"negative seq", raw(`{"c":"` + conv + `","d":"a","s":-1}`)},
		{"before zero", raw(`{"c":"` + conv + `","d":"b","s":0}`)},
		{"seq not a number", raw(`{"c":"` + conv + `","d":"a","s":"5"}`)},
		{"seq overflows", raw(`{"c":"` + conv + `","d":"a","s":99999999999999999999}`)},
		{"another conversation", encodeMessageCursor(other, true, 5)},
		{"a conversation cursor", encodeConversationCursor(conv)},
		{"empty object", raw(`{}`)},
	}
	for _, tt := range msgCursors {
		if _, _, err := decodeMessageCursor(tt.cursor, conv); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("message cursor %s: err = %v, want ErrInvalidCursor", tt.name, err)
		}
	}

	convCursors := []struct{ name, cursor string }{
		{"not base64", "!"},
		{"not an id", raw(`{"b":"cnv_x"}`)},
		{"user id", raw(`{"b":"` + ids.Random{}.New(ids.User) + `"}`)},
		{"a message cursor", valid},
		{"null", raw(`null`)},
	}
	for _, tt := range convCursors {
		if _, err := decodeConversationCursor(tt.cursor); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("conversation cursor %s: err = %v, want ErrInvalidCursor", tt.name, err)
		}
	}
}
