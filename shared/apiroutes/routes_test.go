package apiroutes

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// samTemplate reads only what the route table needs from template.yaml. Intrinsic tags such
// as !Ref and !GetAtt elsewhere in the file decode into fields this struct does not declare.
type samTemplate struct {
	Resources map[string]struct {
		Type       string `yaml:"Type"`
		Properties struct {
			Events map[string]struct {
				Type       string `yaml:"Type"`
				Properties struct {
					Path   string `yaml:"Path"`
					Method string `yaml:"Method"`
				} `yaml:"Properties"`
			} `yaml:"Events"`
		} `yaml:"Properties"`
	} `yaml:"Resources"`
}

func TestTableMatchesTemplate(t *testing.T) {
	b, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl samTemplate
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	var fromTemplate []string
	for name, r := range tpl.Resources {
		for _, ev := range r.Properties.Events {
			if ev.Type != "HttpApi" || ev.Properties.Path == "$default" {
				continue
			}
			if ev.Properties.Path == "" || ev.Properties.Method == "" {
				t.Fatalf("%s: an HttpApi event without Path or Method", name)
			}
			fromTemplate = append(fromTemplate, strings.ToUpper(ev.Properties.Method)+" "+ev.Properties.Path)
		}
	}
	var fromTable []string
	for _, r := range All {
		fromTable = append(fromTable, r.Method+" "+r.Path)
	}
	slices.Sort(fromTemplate)
	slices.Sort(fromTable)
	if len(fromTemplate) == 0 || !slices.Equal(fromTemplate, fromTable) {
		t.Fatalf("apiroutes.All and template.yaml differ:\n table:    %v\n template: %v", fromTable, fromTemplate)
	}
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		path string
		want []string
	}{
		{"/v1/tenants", []string{"POST"}},
		{"/v1/users", []string{"GET"}},
		{"/v1/users/me", []string{"GET"}},
		{"/v1/users/usr_123", []string{"GET"}},
		{"/v1/conversations", []string{"GET", "POST"}},
		{"/v1/conversations/cnv_1/messages", []string{"GET", "POST"}},
		{"/v1/conversations//messages", nil},
		{"/v1/conversations/cnv_1", nil},
		{"/v1/tenants/", nil},
		{"/v2/tenants", nil},
		{"/", nil},
		{"", nil},
	}
	for _, c := range cases {
		if got := Allowed(All, c.path); !slices.Equal(got, c.want) {
			t.Errorf("Allowed(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}
