package realtime

import (
	"errors"
	"strings"
	"testing"

	"caas.dev/shared/fault"
)

func TestParseFrame(t *testing.T) {
	conv := "cnv_x"
	tests := []struct {
		name  string
		frame string
		want  Frame
		code  string // empty when the frame is valid
	}{
		{"send", `{"action":"sendMessage","conversation_id":"cnv_x","client_msg_id":"m1","body":"hi"}`,
			Frame{Action: ActionSendMessage, ConversationID: conv, ClientMsgID: "m1", Body: "hi"}, ""},
		{"typing", `{"action":"typing","conversation_id":"cnv_x"}`, Frame{Action: ActionTyping, ConversationID: conv}, ""},
		{"mark read", `{"action":"markRead","conversation_id":"cnv_x","seq":7}`,
			Frame{Action: ActionMarkRead, ConversationID: conv, Seq: 7}, ""},
		{"mark read zero", `{"action":"markRead","conversation_id":"cnv_x","seq":0}`,
			Frame{Action: ActionMarkRead, ConversationID: conv}, ""},
		{"ping", `{"action":"ping"}`, Frame{Action: ActionPing}, ""},

		{"not json", `hello`, Frame{}, "malformed_json"},
		{"truncated", `{"action":"ping"`, Frame{}, "malformed_json"},
		{"array", `[1,2]`, Frame{}, "malformed_json"},
		{"action not a string", `{"action":5}`, Frame{}, "malformed_json"},
		{"empty", `  `, Frame{}, "empty_body"},
		{"invalid utf-8", "{\"action\":\"ping\xff\"}", Frame{}, "invalid_utf8"},
		{"no action", `{"conversation_id":"cnv_x"}`, Frame{}, "missing_field"},
		{"unknown action", `{"action":"deleteEverything"}`, Frame{Action: "deleteEverything"}, "unknown_action"},
		{"unknown field", `{"action":"typing","conversation_id":"cnv_x","body":"x"}`, Frame{Action: ActionTyping}, "unknown_field"},
		{"wrong type", `{"action":"markRead","conversation_id":"cnv_x","seq":"7"}`, Frame{Action: ActionMarkRead}, "wrong_type"},
		{"no seq", `{"action":"markRead","conversation_id":"cnv_x"}`, Frame{Action: ActionMarkRead}, "missing_field"},
		{"negative seq", `{"action":"markRead","conversation_id":"cnv_x","seq":-1}`, Frame{Action: ActionMarkRead}, "invalid_field"},
		{"no conversation", `{"action":"typing"}`, Frame{Action: ActionTyping}, "missing_field"},
		{"send echoes client id", `{"action":"sendMessage","client_msg_id":"m9","body":"x"}`,
			Frame{Action: ActionSendMessage, ClientMsgID: "m9", Body: "x"}, "missing_field"},
		{"two values", `{"action":"ping"}{"action":"ping"}`, Frame{}, "malformed_json"},
		{"too large", `{"action":"sendMessage","conversation_id":"cnv_x","client_msg_id":"m","body":"` +
			strings.Repeat("a", MaxFrameBytes) + `"}`, Frame{}, "frame_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFrame([]byte(tt.frame))
			if tt.code == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseFrame = %+v, %v; want %+v", got, err, tt.want)
				}
				return
			}
			fe := fault.As(err)
			if fe == nil || fe.Code != tt.code {
				t.Fatalf("error = %v, want code %s", err, tt.code)
			}
			if got.Action != tt.want.Action || got.ClientMsgID != tt.want.ClientMsgID {
				t.Fatalf("head = %+v, want action %q client_msg_id %q", got, tt.want.Action, tt.want.ClientMsgID)
			}
		})
	}
}

func TestErrorFrameHidesInternalErrors(t *testing.T) {
	f := Frame{Action: ActionSendMessage, ClientMsgID: "m1"}
	got := errorFrameFor(f, errors.New("mongo: connection refused at 10.0.0.3"))
	if got.Code != "internal" || strings.Contains(got.Detail, "mongo") || got.ClientMsgID != "m1" || got.Type != TypeError {
		t.Fatalf("error frame = %+v", got)
	}
	got = errorFrameFor(f, ErrUnknownAction)
	if got.Code != "unknown_action" || got.Action != ActionSendMessage {
		t.Fatalf("error frame = %+v", got)
	}
}
