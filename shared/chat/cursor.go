package chat

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math"

	"caas.dev/shared/ids"
)

// Cursors are opaque to clients: base64url (unpadded) of a small JSON document naming the last
// key a page ended on. They are not signed, because they grant nothing: every query they feed is
// still scoped to the caller's tenant and membership. Decoding is strict so that a cursor that
// was altered is refused with ErrInvalidCursor rather than quietly read as something else.

// conversationCursor continues a list of conversations after Before, newest first.
type conversationCursor struct {
	Before string `json:"b"`
}

// Directions of a message cursor.
const (
	dirAfter  = "a"
	dirBefore = "b"
)

// messageCursor continues a conversation's messages in one direction from Seq. It names its
// conversation so that a cursor cannot be replayed against another one.
type messageCursor struct {
	Conversation string `json:"c"`
	Dir          string `json:"d"`
	Seq          int64  `json:"s"`
}

func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only fixed struct types of this file reach here, and they always marshal.
		panic("chat: encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) error {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return ErrInvalidCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return ErrInvalidCursor
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrInvalidCursor
	}
	return nil
}

// encodeConversationCursor returns the cursor of the page after the conversation id.
func encodeConversationCursor(lastID string) string {
	return encodeCursor(conversationCursor{Before: lastID})
}

// decodeConversationCursor returns the conversation id a cursor continues before.
func decodeConversationCursor(s string) (string, error) {
	var c conversationCursor
	if err := decodeCursor(s, &c); err != nil {
		return "", err
	}
	if !ids.Valid(ids.Conversation, c.Before) {
		return "", ErrInvalidCursor
	}
	return c.Before, nil
}

// encodeMessageCursor returns the cursor that continues forward after seq or backward before it.
func encodeMessageCursor(conversationID string, forward bool, seq int64) string {
	dir := dirBefore
	if forward {
		dir = dirAfter
	}
	return encodeCursor(messageCursor{Conversation: conversationID, Dir: dir, Seq: seq})
}

// decodeMessageCursor returns the direction and position of a message cursor issued for
// conversationID.
func decodeMessageCursor(s, conversationID string) (forward bool, seq int64, err error) {
	var c messageCursor
	if err := decodeCursor(s, &c); err != nil {
		return false, 0, err
	}
	if c.Conversation != conversationID {
		return false, 0, ErrInvalidCursor
	}
	switch {
	case c.Dir == dirAfter && c.Seq >= 0 && c.Seq < math.MaxInt64:
		return true, c.Seq, nil
	case c.Dir == dirBefore && c.Seq >= 1:
		return false, c.Seq, nil
	default:
		return false, 0, ErrInvalidCursor
	}
}
