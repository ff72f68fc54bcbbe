package chat

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"caas.dev/shared/edge"
	"caas.dev/shared/ids"
)

// Limits of the API. Lengths of text are counted in Unicode code points (as
// utf8.RuneCountInString counts them), never in bytes or grapheme clusters.
const (
	// MaxGroupMembers is the most members a group conversation may have, the creator included.
	MaxGroupMembers = 1000
	// MaxTitleRunes is the longest title, in code points.
	MaxTitleRunes = 200
	// MaxBodyRunes is the longest message body, in code points.
	MaxBodyRunes = 4000
	// MaxClientMsgIDLen is the longest client message id, in ASCII characters.
	MaxClientMsgIDLen = 64
)

// NewConversation is a request to create a conversation.
type NewConversation struct {
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Members []string `json:"members"`
}

// NewMessage is a request to send a message.
type NewMessage struct {
	// ClientMsgID is chosen by the client, unique per sender and conversation, so that a retried
	// send is stored once: 1 to 64 characters from A-Z a-z 0-9 and "_-.:".
	ClientMsgID string `json:"client_msg_id"`
	// Body is the text, 1 to MaxBodyRunes code points, not only white space, without U+0000.
	// Its bytes are stored and returned unchanged.
	Body string `json:"body"`
}

// normalize checks in and returns the distinct members of the conversation, the creator
// first. The directory check for their existence comes later.
func (in NewConversation) normalize(creatorID string) ([]string, error) {
	if in.Type == "" {
		return nil, edge.Missing("type")
	}
	if in.Type != TypeGroup && in.Type != TypeDirect {
		return nil, edge.Invalid("type", `must be "group" or "direct"`)
	}
	if in.Members == nil {
		return nil, edge.Missing("members")
	}
	// Bound the work before deduplicating: a list far over the limit is refused as is.
	if len(in.Members) > MaxGroupMembers {
		return nil, edge.Invalid("members", fmt.Sprintf("at most %d members", MaxGroupMembers))
	}
	members := []string{creatorID}
	for i, m := range in.Members {
		if !ids.Valid(ids.User, m) {
			return nil, edge.Invalid(fmt.Sprintf("members[%d]", i), "must be a user id")
		}
		if !slices.Contains(members, m) {
			members = append(members, m)
		}
	}
	if err := checkTitle(in.Title, in.Type == TypeGroup); err != nil {
		return nil, err
	}
	switch {
	case in.Type == TypeDirect && len(members) != 2:
		return nil, edge.Invalid("members", "a direct conversation has exactly two distinct members, the caller and one other")
	case len(members) > MaxGroupMembers:
		return nil, edge.Invalid("members", fmt.Sprintf("at most %d members, the caller included", MaxGroupMembers))
	}
	return members, nil
}

func checkTitle(title string, required bool) error {
	if strings.TrimSpace(title) == "" {
		if required {
			return edge.Missing("title")
		}
		if title != "" {
			return edge.Invalid("title", "must not be only white space")
		}
		return nil
	}
	if n := utf8.RuneCountInString(title); n > MaxTitleRunes {
		return edge.Invalid("title", fmt.Sprintf("at most %d code points (got %d)", MaxTitleRunes, n))
	}
	// A title is one line shown in lists: control characters (line breaks, NUL) have no place.
	if strings.IndexFunc(title, unicode.IsControl) >= 0 {
		return edge.Invalid("title", "must not contain control characters")
	}
	return nil
}

// validate checks a message against the documented limits.
func (in NewMessage) validate() error {
	if in.ClientMsgID == "" {
		return edge.Missing("client_msg_id")
	}
	if !validClientMsgID(in.ClientMsgID) {
		return edge.Invalid("client_msg_id", `1 to 64 characters from A-Z, a-z, 0-9 and "_-.:"`)
	}
	if in.Body == "" {
		return edge.Missing("body")
	}
	// The edge refuses invalid UTF-8 in the JSON; a body built in code is checked here too.
	if !utf8.ValidString(in.Body) {
		return edge.Invalid("body", "must be valid UTF-8")
	}
	// U+0000 is refused: MongoDB-protocol stores on PostgreSQL (FerretDB) cannot hold it in a
	// string, and no chat client means to send it.
	if strings.ContainsRune(in.Body, 0) {
		return edge.Invalid("body", "must not contain U+0000 (NUL)")
	}
	if n := utf8.RuneCountInString(in.Body); n > MaxBodyRunes {
		return edge.Invalid("body", fmt.Sprintf("at most %d code points (got %d)", MaxBodyRunes, n))
	}
	if strings.IndexFunc(in.Body, func(r rune) bool { return !unicode.IsSpace(r) }) < 0 {
		return edge.Invalid("body", "must not be only white space")
	}
	return nil
}

func validClientMsgID(s string) bool {
	if len(s) == 0 || len(s) > MaxClientMsgIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}
