package realtime_test

import (
	"encoding/json"
	"strings"
	"testing"

	"caas.dev/shared/chat"
	"caas.dev/shared/realtime"
)

// A message whose sender's key was destroyed is shown erased, with an empty body; any other
// shows no "erased" field, so clients see what they always saw.
func TestMessageJSONShowsErased(t *testing.T) {
	erased, err := json.Marshal(realtime.ToMessageJSON(chat.Message{ID: "msg_1", Erased: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(erased), `"erased":true`) || !strings.Contains(string(erased), `"body":""`) {
		t.Errorf("erased message = %s, want \"erased\":true and an empty body", erased)
	}
	plain, err := json.Marshal(realtime.ToMessageJSON(chat.Message{ID: "msg_2", Body: "hi"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "erased") || !strings.Contains(string(plain), `"body":"hi"`) {
		t.Errorf("message = %s, want its body and no erased field", plain)
	}
}
