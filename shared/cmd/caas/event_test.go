package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExpandEvent(t *testing.T) {
	vars := map[string]string{"CAAS_API_KEY": "caas_sk_ten_1_abc", "TRICKY": `a"b\c`}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }

	got, err := expandEvent([]byte(`{"k":"${CAAS_API_KEY}","t":"x${TRICKY}y","keep":"$HOME ${lower}"}`), lookup)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]string
	if err := json.Unmarshal(got, &ev); err != nil {
		t.Fatalf("expanded event is not JSON: %v: %s", err, got)
	}
	if ev["k"] != "caas_sk_ten_1_abc" || ev["t"] != `xa"b\cy` || ev["keep"] != "$HOME ${lower}" {
		t.Fatalf("got %v", ev)
	}

	_, err = expandEvent([]byte(`{"a":"${NOPE}","b":"${ALSO_NOPE}"}`), lookup)
	if err == nil || !strings.Contains(err.Error(), "NOPE") || !strings.Contains(err.Error(), "ALSO_NOPE") {
		t.Fatalf("want an error naming both variables, got %v", err)
	}
}
