package template

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// shortTags maps the YAML short forms of intrinsic functions to their long names, so the rest of
// the package only ever sees the long form ({"Ref": x}, {"Fn::Sub": x}, ...).
var shortTags = map[string]string{
	"!Ref":         "Ref",
	"!Sub":         "Fn::Sub",
	"!GetAtt":      "Fn::GetAtt",
	"!Join":        "Fn::Join",
	"!Select":      "Fn::Select",
	"!If":          "Fn::If",
	"!Split":       "Fn::Split",
	"!Base64":      "Fn::Base64",
	"!FindInMap":   "Fn::FindInMap",
	"!GetAZs":      "Fn::GetAZs",
	"!ImportValue": "Fn::ImportValue",
	"!Equals":      "Fn::Equals",
	"!Not":         "Fn::Not",
	"!And":         "Fn::And",
	"!Or":          "Fn::Or",
	"!Condition":   "Condition",
}

// decodeYAML parses a CloudFormation YAML document into plain Go values: map[string]any,
// []any, string, int/uint/float, bool and nil. Intrinsic tags become their long forms.
func decodeYAML(data []byte) (map[string]any, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	if len(file.Docs) != 1 || file.Docs[0].Body == nil {
		return nil, fmt.Errorf("parse YAML: want exactly one document")
	}
	v, err := convert(file.Docs[0].Body)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse YAML: the document is not a mapping")
	}
	return m, nil
}

func convert(n ast.Node) (any, error) {
	switch n := n.(type) {
	case nil:
		return nil, nil
	case *ast.DocumentNode:
		return convert(n.Body)
	case *ast.NullNode:
		return nil, nil
	case *ast.MappingNode:
		m := make(map[string]any, len(n.Values))
		for _, kv := range n.Values {
			if err := convertPair(m, kv); err != nil {
				return nil, err
			}
		}
		return m, nil
	case *ast.MappingValueNode:
		m := map[string]any{}
		if err := convertPair(m, n); err != nil {
			return nil, err
		}
		return m, nil
	case *ast.SequenceNode:
		s := make([]any, 0, len(n.Values))
		for _, e := range n.Values {
			v, err := convert(e)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case *ast.TagNode:
		return convertTag(n)
	case *ast.AnchorNode:
		return convert(n.Value)
	case *ast.AliasNode:
		return nil, fmt.Errorf("line %d: YAML aliases are not supported", n.GetToken().Position.Line)
	case *ast.CommentGroupNode:
		return nil, nil
	case ast.ScalarNode:
		return n.GetValue(), nil
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node %s", n.GetToken().Position.Line, n.Type())
	}
}

func convertPair(m map[string]any, kv *ast.MappingValueNode) error {
	var key string
	switch k := kv.Key.(type) {
	case ast.ScalarNode:
		key = fmt.Sprint(k.GetValue())
	default:
		key = strings.TrimSpace(kv.Key.String())
	}
	v, err := convert(kv.Value)
	if err != nil {
		return err
	}
	m[key] = v
	return nil
}

func convertTag(n *ast.TagNode) (any, error) {
	tag := n.Start.Value
	v, err := convert(n.Value)
	if err != nil {
		return nil, err
	}
	long, ok := shortTags[tag]
	if !ok {
		// Standard YAML tags (!!str, !!int) keep their value.
		if strings.HasPrefix(tag, "!!") {
			return v, nil
		}
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Start.Position.Line, tag)
	}
	if long == "Fn::GetAtt" {
		// The short form takes "Resource.Attribute"; the long form a two-element list.
		if s, ok := v.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Start.Position.Line, s)
			}
			v = []any{res, attr}
		}
	}
	return map[string]any{long: v}, nil
}
