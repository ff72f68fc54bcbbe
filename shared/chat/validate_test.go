package chat

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
	"caas.dev/shared/ids"
)

func TestNewConversationNormalize(t *testing.T) {
	me, bob, carol := ids.Random{}.New(ids.User), ids.Random{}.New(ids.User), ids.Random{}.New(ids.User)
	many := make([]string, MaxGroupMembers)
	for i := range many {
		many[i] = ids.Random{}.New(ids.User)
	}
	tests := []struct {
		name    string
		in      NewConversation
		want    []string
		wantErr error
	}{
		{"group", NewConversation{Type: TypeGroup, Title: "t", Members: []string{bob, carol}}, []string{me, bob, carol}, nil},
		{"group of one", NewConversation{Type: TypeGroup, Title: "notes", Members: []string{}}, []string{me}, nil},
		{"duplicates and caller dropped", NewConversation{Type: TypeGroup, Title: "t", Members: []string{bob, me, bob}}, []string{me, bob}, nil},
		{"direct", NewConversation{Type: TypeDirect, Members: []string{bob}}, []string{me, bob}, nil},
		{"direct naming caller", NewConversation{Type: TypeDirect, Members: []string{me, bob}}, []string{me, bob}, nil},
		{"direct with title", NewConversation{Type: TypeDirect, Title: "us", Members: []string{bob}}, []string{me, bob}, nil},
		{"title of 200 code points", NewConversation{Type: TypeGroup, Title: strings.Repeat("é", 200), Members: []string{bob}}, []string{me, bob}, nil},
		{"missing type", NewConversation{Title: "t", Members: []string{bob}}, nil, edge.ErrMissingField},
		{"bad type", NewConversation{Type: "channel", Title: "t", Members: []string{bob}}, nil, edge.ErrInvalidField},
		{"missing members", NewConversation{Type: TypeGroup, Title: "t"}, nil, edge.ErrMissingField},
		{"ill-formed member", NewConversation{Type: TypeGroup, Title: "t", Members: []string{"bob"}}, nil, edge.ErrInvalidField},
		{"group without title", NewConversation{Type: TypeGroup, Members: []string{bob}}, nil, edge.ErrMissingField},
		{"title with a line break", NewConversation{Type: TypeGroup, Title: "a\nb", Members: []string{bob}}, nil, edge.ErrInvalidField},
		{"title with NUL", NewConversation{Type: TypeGroup, Title: "a\x00b", Members: []string{bob}}, nil, edge.ErrInvalidField},
		{"blank title", NewConversation{Type: TypeGroup, Title: " \t", Members: []string{bob}}, nil, edge.ErrMissingField},
		{"title too long", NewConversation{Type: TypeGroup, Title: strings.Repeat("é", 201), Members: []string{bob}}, nil, edge.ErrInvalidField},
		{"direct alone", NewConversation{Type: TypeDirect, Members: []string{me}}, nil, edge.ErrInvalidField},
		{"direct of three", NewConversation{Type: TypeDirect, Members: []string{bob, carol}}, nil, edge.ErrInvalidField},
		{"direct blank title", NewConversation{Type: TypeDirect, Title: "  ", Members: []string{bob}}, nil, edge.ErrInvalidField},
		{"group over the limit with caller", NewConversation{Type: TypeGroup, Title: "t", Members: many}, nil, edge.ErrInvalidField},
		{"group far over the limit", NewConversation{Type: TypeGroup, Title: "t", Members: append(many, bob)}, nil, edge.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.normalize(me)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("members = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewMessageValidate(t *testing.T) {
	tests := []struct {
		name    string
		in      NewMessage
		wantErr error
	}{
		{"plain", NewMessage{ClientMsgID: "c1", Body: "hi"}, nil},
		{"id charset", NewMessage{ClientMsgID: "Az09_-.:", Body: "hi"}, nil},
		{"id of 64", NewMessage{ClientMsgID: strings.Repeat("a", 64), Body: "hi"}, nil},
		{"4000 code points of 4 bytes", NewMessage{ClientMsgID: "c", Body: strings.Repeat("😀", 4000)}, nil},
		{"combining marks count each", NewMessage{ClientMsgID: "c", Body: strings.Repeat("e\u0301", 2000)}, nil},
		{"leading space kept", NewMessage{ClientMsgID: "c", Body: "  x  "}, nil},
		{"missing id", NewMessage{Body: "hi"}, edge.ErrMissingField},
		{"id of 65", NewMessage{ClientMsgID: strings.Repeat("a", 65), Body: "hi"}, edge.ErrInvalidField},
		{"id with space", NewMessage{ClientMsgID: "a b", Body: "hi"}, edge.ErrInvalidField},
		{"id with slash", NewMessage{ClientMsgID: "a/b", Body: "hi"}, edge.ErrInvalidField},
		{"id with pipe", NewMessage{ClientMsgID: "a|b", Body: "hi"}, edge.ErrInvalidField},
		{"id non-ASCII", NewMessage{ClientMsgID: "é", Body: "hi"}, edge.ErrInvalidField},
		{"missing body", NewMessage{ClientMsgID: "c"}, edge.ErrMissingField},
		{"only white space", NewMessage{ClientMsgID: "c", Body: " \n\t\u00a0\u3000"}, edge.ErrInvalidField},
		{"4001 code points", NewMessage{ClientMsgID: "c", Body: strings.Repeat("a", 4001)}, edge.ErrInvalidField},
		{"invalid UTF-8", NewMessage{ClientMsgID: "c", Body: "a\xffb"}, edge.ErrInvalidField},
		{"NUL", NewMessage{ClientMsgID: "c", Body: "a\x00b"}, edge.ErrInvalidField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.validate()
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("validate() = %v, want %v", err, tt.wantErr)
			}
			if err != nil && fault.As(err) == nil {
				t.Errorf("error %v is not a *fault.Error: it would reach the client as a 500", err)
			}
		})
	}
}
