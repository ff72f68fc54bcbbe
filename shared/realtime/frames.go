package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"caas.dev/shared/chat"
	"caas.dev/shared/edge"
	"caas.dev/shared/fault"
)

// MaxFrameBytes is the largest frame WsDefault accepts, API Gateway's own frame limit: a
// message body at its longest (chat.MaxBodyRunes code points) fits in it.
const MaxFrameBytes = 32 << 10

// Actions a client may send in the "action" field of a frame.
const (
	ActionSendMessage = "sendMessage"
	ActionTyping      = "typing"
	ActionMarkRead    = "markRead"
	ActionPing        = "ping"
)

// Failures of a frame. Their codes are part of the WebSocket contract.
var (
	// ErrFrameTooLarge is returned for a frame over MaxFrameBytes.
	ErrFrameTooLarge = fault.New(fault.TooLarge, "frame_too_large", fmt.Sprintf("the frame is over %d bytes", MaxFrameBytes))
	// ErrUnknownAction is returned for an action this API does not define.
	ErrUnknownAction = fault.New(fault.Invalid, "unknown_action",
		"action must be one of sendMessage, typing, markRead, ping")
)

// Frame is one decoded client frame. Fields other than Action are set for the actions that
// take them.
type Frame struct {
	Action         string
	ConversationID string
	ClientMsgID    string
	Body           string
	Seq            int64
}

// frameHead is read leniently first, so an error frame can name the action and echo the
// client message id even when the rest of the frame is wrong.
type frameHead struct {
	Action      string `json:"action"`
	ClientMsgID string `json:"client_msg_id"`
}

// The strict shapes of each action: a field an action does not take is refused.
type (
	sendMessageFrame struct {
		Action         string `json:"action"`
		ConversationID string `json:"conversation_id"`
		ClientMsgID    string `json:"client_msg_id"`
		Body           string `json:"body"`
	}
	typingFrame struct {
		Action         string `json:"action"`
		ConversationID string `json:"conversation_id"`
	}
	markReadFrame struct {
		Action         string `json:"action"`
		ConversationID string `json:"conversation_id"`
		Seq            *int64 `json:"seq"`
	}
	pingFrame struct {
		Action string `json:"action"`
	}
)

// ParseFrame decodes a client frame. It always returns what it could read of the frame's head
// (action, client message id), so the error frame can echo them; err is a *fault.Error with a
// stable code: frame_too_large, empty_body, malformed_json, missing_field, unknown_action,
// unknown_field, wrong_type, invalid_field.
func ParseFrame(b []byte) (Frame, error) {
	if len(b) > MaxFrameBytes {
		return Frame{}, ErrFrameTooLarge
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Frame{}, edge.ErrEmptyBody
	}
	if !utf8.Valid(b) {
		return Frame{}, edge.ErrInvalidUTF8
	}
	var head frameHead
	if err := json.Unmarshal(b, &head); err != nil {
		// A frame that is JSON but not an object, or whose action is not a string, is as
		// unusable as one that is not JSON.
		return Frame{}, fault.WithDetail(edge.ErrMalformedJSON, "the frame must be a JSON object with a string action")
	}
	f := Frame{Action: head.Action, ClientMsgID: head.ClientMsgID}

	switch head.Action {
	case "":
		return f, edge.Missing("action")
	case ActionSendMessage:
		var in sendMessageFrame
		if err := edge.DecodeJSON(b, &in); err != nil {
			return f, err
		}
		f.ConversationID, f.Body = in.ConversationID, in.Body
	case ActionTyping:
		var in typingFrame
		if err := edge.DecodeJSON(b, &in); err != nil {
			return f, err
		}
		f.ConversationID = in.ConversationID
	case ActionMarkRead:
		var in markReadFrame
		if err := edge.DecodeJSON(b, &in); err != nil {
			return f, err
		}
		if in.Seq == nil {
			return f, edge.Missing("seq")
		}
		if *in.Seq < 0 {
			return f, edge.Invalid("seq", "must be zero or more")
		}
		f.ConversationID, f.Seq = in.ConversationID, *in.Seq
	case ActionPing:
		var in pingFrame
		if err := edge.DecodeJSON(b, &in); err != nil {
			return f, err
		}
		return f, nil
	default:
		return f, ErrUnknownAction
	}
	if f.ConversationID == "" {
		return f, edge.Missing("conversation_id")
	}
	return f, nil
}

// errorFrame is the answer to a frame that failed.
type errorFrame struct {
	Type        string `json:"type"`
	Action      string `json:"action,omitempty"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	Code        string `json:"code"`
	Detail      string `json:"detail"`
}

// internalFault is what a client sees for a failure that is not its own.
var internalFault = fault.New(fault.Internal, "internal", "the server could not complete the request")

// errorFrameFor returns the error frame of err for the frame f. A failure that is not a
// *fault.Error becomes the generic internal error: its text never reaches the client.
func errorFrameFor(f Frame, err error) errorFrame {
	fe := fault.As(err)
	if fe == nil {
		fe = internalFault
	}
	return errorFrame{Type: TypeError, Action: f.Action, ClientMsgID: f.ClientMsgID, Code: fe.Code, Detail: fe.Detail}
}

// sendAck answers a stored sendMessage.
type sendAck struct {
	Type        string      `json:"type"`
	Action      string      `json:"action"`
	ClientMsgID string      `json:"client_msg_id"`
	Message     MessageJSON `json:"message"`
}

// readAck answers a markRead with the caller's read state.
type readAck struct {
	Type           string `json:"type"`
	Action         string `json:"action"`
	ConversationID string `json:"conversation_id"`
	ReadSeq        int64  `json:"read_seq"`
	LastSeq        int64  `json:"last_seq"`
	UnreadCount    int64  `json:"unread_count"`
}

func newReadAck(st chat.ReadState) readAck {
	return readAck{Type: TypeAck, Action: ActionMarkRead, ConversationID: st.ConversationID,
		ReadSeq: st.ReadSeq, LastSeq: st.LastSeq, UnreadCount: st.Unread}
}

// pong answers a ping.
type pong struct {
	Type string `json:"type"`
}
