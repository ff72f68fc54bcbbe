package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// placeholder matches ${NAME} in an event file.
var placeholder = regexp.MustCompile(`\$\{([A-Z_][A-Z0-9_]*)\}`)

// expandEvent replaces each ${NAME} in event with the value lookup gives, escaped for a JSON
// string, so one sample event serves every platform: `CAAS_API_KEY=... caas invoke Register -e
// events/register.json`. A name lookup does not know is an error naming it, never an empty
// string sent on.
func expandEvent(event []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := placeholder.ReplaceAllFunc(event, func(m []byte) []byte {
		name := string(placeholder.FindSubmatch(m)[1])
		v, ok := lookup(name)
		if !ok {
			missing = append(missing, name)
			return m
		}
		quoted, _ := json.Marshal(v)
		return quoted[1 : len(quoted)-1]
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("the event refers to %s: set %s in the environment",
			"${"+strings.Join(missing, "}, ${")+"}", strings.Join(missing, ", "))
	}
	return out, nil
}

// eventLookup resolves placeholders from the environment, and CAAS_ADMIN_KEY also from the key
// `caas run` stored in the state directory.
func eventLookup(stateDir string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			return v, true
		}
		if name == "CAAS_ADMIN_KEY" {
			b, err := os.ReadFile(filepath.Join(stateDir, "admin-key"))
			if k := strings.TrimSpace(string(b)); err == nil && k != "" {
				return k, true
			}
		}
		return "", false
	}
}
