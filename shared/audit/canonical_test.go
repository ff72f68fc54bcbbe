package audit

import (
	"testing"
	"time"
)

func TestCanonicalSortsByUTF16AndEscapes(t *testing.T) {
	tests := []struct {
		name string
		in   Object
		want string
	}{
		{"empty", Object{}, `{}`},
		// The order of RFC 8785 §3.2.3: U+1F600 (UTF-16 D83D DE00) before U+FB33, unlike bytes.
		{"utf16 order", Object{"\u20ac": "a", "\r": "b", "\ufb33": "c", "1": "d", "\U0001F600": "e", "\u0080": "f", "\u00f6": "g"},
			"{\"\\r\":\"b\",\"1\":\"d\",\"\u0080\":\"f\",\"\u00f6\":\"g\",\"\u20ac\":\"a\",\"\U0001F600\":\"e\",\"\ufb33\":\"c\"}"},
		{"escapes", Object{"s": "\"\\\b\f\n\r\t\x01\x1f/\u2028<"}, `{"s":"\"\\\b\f\n\r\t\u0001\u001f/` + "\u2028" + `<"}`},
		{"integers and nesting", Object{"n": int64(-7), "z": Object{"b": int64(9007199254740991), "a": ""}}, `{"n":-7,"z":{"a":"","b":9007199254740991}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Canonical(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Canonical = %s\nwant        %s", got, tc.want)
			}
		})
	}
}

func TestCanonicalRefuses(t *testing.T) {
	for name, in := range map[string]Object{
		"float":       {"f": 1.5},
		"big integer": {"n": int64(1 << 53)},
		"bad utf8":    {"s": "\xff"},
		"bool":        {"b": true},
	} {
		if _, err := Canonical(in); err == nil {
			t.Errorf("%s: Canonical accepted it", name)
		}
	}
}

// TestRecordHashVector checks a record's canonical bytes and hash against values computed by
// hand, outside this package (Python: hashlib.sha256(bytes(32) + canonical).hexdigest()).
func TestRecordHashVector(t *testing.T) {
	r := Record{
		Input: Input{
			ID: "rec-1", Time: time.Date(2026, 5, 1, 10, 0, 0, 123000000, time.UTC),
			Actor: Actor{Type: ActorAPIKey, ID: "key_01"}, Action: "POST /v1/conversations", Resource: "cnv_1",
			Outcome: OutcomeSuccess, Status: 201, IP: "203.0.113.7", UserAgent: "curl/8", LatencyMS: 42,
			RequestID: "req-1", Details: map[string]string{"note": "café \"x\"\n\x1f"},
		},
		TenantID: "ten_a", Seq: 1, PreviousHash: GenesisHash,
	}
	wantCanonical := `{"action":"POST /v1/conversations","actor":{"id":"key_01","type":"api_key"},"details":{"note":"café \"x\"\n\u001f"},"id":"rec-1","ip":"203.0.113.7","latency_ms":42,"outcome":"success","previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","request_id":"req-1","resource":"cnv_1","seq":1,"status":201,"tenant_id":"ten_a","time":"2026-05-01T10:00:00.123Z","user_agent":"curl/8"}`
	got, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != wantCanonical {
		t.Fatalf("canonical = %s\nwant        %s", got, wantCanonical)
	}
	h, err := r.ComputeHash()
	if err != nil {
		t.Fatal(err)
	}
	if want := "0bed86670a744c9e860b25b6a2ee7fd37af52be1fce0bfdae229969560146fe2"; h != want {
		t.Errorf("hash = %s, want %s", h, want)
	}
}

func TestInputValidation(t *testing.T) {
	good := Input{ID: "r1", Time: time.Now(), Actor: Actor{Type: ActorSystem, ID: "retention"}, Action: "RUN retention", Outcome: OutcomeSuccess}
	if err := good.validate(); err != nil {
		t.Fatalf("good input refused: %v", err)
	}
	for name, mutate := range map[string]func(*Input){
		"raw user id":   func(in *Input) { in.Actor = Actor{Type: ActorUser, ID: "usr_01"} },
		"no id":         func(in *Input) { in.ID = "" },
		"no time":       func(in *Input) { in.Time = time.Time{} },
		"bad outcome":   func(in *Input) { in.Outcome = "ok" },
		"detail key":    func(in *Input) { in.Details = map[string]string{"a.b": "x"} },
		"bad utf8":      func(in *Input) { in.Resource = "\xff" },
		"unknown actor": func(in *Input) { in.Actor.Type = "robot" },
	} {
		in := good
		mutate(&in)
		if err := in.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRecordCanonicalMatchesTheGenericEncoder checks the direct record encoder against the
// generic one, member order included, for records with and without details.
func TestRecordCanonicalMatchesTheGenericEncoder(t *testing.T) {
	base := Record{
		Input: Input{ID: "r", Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Actor: Actor{Type: ActorSystem, ID: "job"},
			Action: "RUN \"x\"", Resource: "ü\t", Outcome: OutcomeFailure, Status: 500, UserAgent: "a\x00b", LatencyMS: 1 << 40},
		TenantID: "ten_b", Seq: 99, PreviousHash: GenesisHash,
	}
	withDetails := base
	withDetails.Details = map[string]string{"z": "1", "a": "2", "m_1": "\u2028"}
	for _, r := range []Record{base, withDetails} {
		fast, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		generic, err := Canonical(r.canonicalObject())
		if err != nil {
			t.Fatal(err)
		}
		if string(fast) != string(generic) {
			t.Errorf("record encoder = %s\ngeneric        = %s", fast, generic)
		}
	}
}
