package template

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Pseudo parameters as the local runtime reports them.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
	StackName = "caas"
)

// resolver evaluates intrinsic functions against parameter values and the template's resources.
type resolver struct {
	params    map[string]string
	resources map[string]string // logical id -> type
	conds     *conditionSet
	// physical holds what Ref answers for resources whose id is not their logical id.
	physical map[string]string
}

func (r *resolver) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::StackName":
		return StackName, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return "", nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if v, ok := r.physical[name]; ok {
		return v, nil
	}
	if _, ok := r.resources[name]; ok {
		// Locally a resource's physical id is its logical id.
		return name, nil
	}
	return "", fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func (r *resolver) getAtt(res, attr string) (string, error) {
	typ, ok := r.resources[res]
	if !ok {
		return "", fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	switch {
	case attr == "Arn" && typ == typeFunction:
		return FunctionARN(res), nil
	case attr == "ApiEndpoint" && typ == typeV2API:
		return "wss://" + r.physical[res] + ".execute-api." + Region + ".amazonaws.com", nil
	case attr == "ApiId" && typ == typeV2API:
		return r.physical[res], nil
	case attr == "Arn":
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", strings.ToLower(typ), Region, AccountID, res), nil
	default:
		return res + "." + attr, nil
	}
}

// FunctionARN returns the ARN the local runtime gives the function with the given logical id.
func FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, AccountID, name)
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// resolve returns v with every intrinsic function replaced by its value.
func (r *resolver) resolve(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			x, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, drop := x.(noValue); !drop {
				out = append(out, x)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.intrinsic(k, arg)
				}
				if _, named := arg.(string); k == "Condition" && named {
					return r.intrinsic(k, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			x, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := x.(noValue); !drop {
				out[k] = x
			}
		}
		return out, nil
	default:
		return v, nil
	}
}

func (r *resolver) intrinsic(name string, arg any) (any, error) {
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref: want a name, got %T", arg)
		}
		if s == "AWS::NoValue" {
			return noValue{}, nil
		}
		return r.ref(s)
	case "Fn::GetAtt":
		parts, err := r.stringList(arg)
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt: want [Resource, Attribute]")
		}
		return r.getAtt(parts[0], parts[1])
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::Join":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, [values]]")
		}
		delim, ok := l[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: the delimiter is not a string")
		}
		parts, err := r.stringList(l[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Select":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, [values]]")
		}
		idx, err := r.resolve(l[0])
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: %w", err)
		}
		i, err := strconv.Atoi(fmt.Sprint(idx))
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: the index %v is not an integer", idx)
		}
		list, err := r.resolve(l[1])
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: %w", err)
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select: index %d out of range", i)
		}
		return items[i], nil
	default:
		if v, ok, err := r.conditionIntrinsic(name, arg); ok {
			return v, err
		}
		return nil, fmt.Errorf("%s is not supported by the local runtime", name)
	}
}

func (r *resolver) sub(arg any) (any, error) {
	var format string
	vars := map[string]string{}
	switch a := arg.(type) {
	case string:
		format = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub: want a string or [string, {variables}]")
		}
		s, ok := a[0].(string)
		m, ok2 := a[1].(map[string]any)
		if !ok || !ok2 {
			return nil, fmt.Errorf("Fn::Sub: want [string, {variables}]")
		}
		format = s
		for k, v := range m {
			x, err := r.resolve(v)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			vars[k] = fmt.Sprint(x)
		}
	default:
		return nil, fmt.Errorf("Fn::Sub: want a string or [string, {variables}]")
	}

	var firstErr error
	out := subVar.ReplaceAllStringFunc(format, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		var v string
		var err error
		if res, attr, ok := strings.Cut(name, "."); ok {
			v, err = r.getAtt(res, attr)
		} else {
			v, err = r.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub: %w", err)
		}
		return v
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (r *resolver) stringList(v any) ([]string, error) {
	x, err := r.resolve(v)
	if err != nil {
		return nil, err
	}
	l, ok := x.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %T", x)
	}
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = fmt.Sprint(e)
	}
	return out, nil
}
