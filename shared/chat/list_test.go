package chat

import (
	"errors"
	"testing"

	"caas.dev/shared/edge"
)

func TestParseMessageQuery(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	tests := []struct {
		name                         string
		after, before, cursor, limit string
		want                         MessageQuery
		wantErr                      bool
	}{
		{name: "defaults", want: MessageQuery{Limit: DefaultMessageLimit}},
		{name: "after", after: "0", limit: "200", want: MessageQuery{After: n(0), Limit: 200}},
		{name: "before", before: "10", limit: "1", want: MessageQuery{Before: n(10), Limit: 1}},
		{name: "cursor", cursor: "abc", want: MessageQuery{Cursor: "abc", Limit: DefaultMessageLimit}},
		{name: "after and before", after: "1", before: "5", wantErr: true},
		{name: "after and cursor", after: "1", cursor: "abc", wantErr: true},
		{name: "negative after", after: "-1", wantErr: true},
		{name: "before zero", before: "0", wantErr: true},
		{name: "not a number", after: "ten", wantErr: true},
		{name: "fraction", before: "1.5", wantErr: true},
		{name: "overflow", after: "9223372036854775808", wantErr: true},
		{name: "max int64", after: "9223372036854775807", wantErr: true},
		{name: "limit zero", limit: "0", wantErr: true},
		{name: "limit over max", limit: "201", wantErr: true},
		{name: "limit not a number", limit: "x", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessageQuery(tt.after, tt.before, tt.cursor, tt.limit)
			if tt.wantErr {
				if !errors.Is(err, edge.ErrInvalidQuery) {
					t.Fatalf("err = %v, want invalid_query", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !eqPtr(got.After, tt.want.After) || !eqPtr(got.Before, tt.want.Before) ||
				got.Cursor != tt.want.Cursor || got.Limit != tt.want.Limit {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func eqPtr(a, b *int64) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}
