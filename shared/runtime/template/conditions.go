package template

import (
	"fmt"
	"strings"
)

// noValue is what Ref AWS::NoValue evaluates to: the mapping key or list element holding it is
// removed, as CloudFormation removes it.
type noValue struct{}

// conditionSet evaluates the template's Conditions section lazily, each condition once.
type conditionSet struct {
	raw   map[string]any
	value map[string]bool
	busy  map[string]bool // conditions being evaluated: a second visit is a cycle
}

// parseConditions reads the Conditions section; the conditions are evaluated on first use.
func parseConditions(doc map[string]any) (*conditionSet, error) {
	cs := &conditionSet{raw: map[string]any{}, value: map[string]bool{}, busy: map[string]bool{}}
	raw, ok := doc["Conditions"]
	if !ok || raw == nil {
		return cs, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Conditions: not a mapping")
	}
	cs.raw = m
	return cs, nil
}

// condition returns the value of the named condition.
func (r *resolver) condition(name string) (bool, error) {
	cs := r.conds
	if v, ok := cs.value[name]; ok {
		return v, nil
	}
	expr, ok := cs.raw[name]
	if !ok {
		return false, fmt.Errorf("Condition %s: no such condition", name)
	}
	if cs.busy[name] {
		return false, fmt.Errorf("Condition %s: refers to itself", name)
	}
	cs.busy[name] = true
	defer delete(cs.busy, name)
	v, err := r.resolve(expr)
	if err != nil {
		return false, fmt.Errorf("Condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("Condition %s: want Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition, got %v", name, v)
	}
	cs.value[name] = b
	return b, nil
}

// boolArg evaluates a condition operand: a nested condition function or {"Condition": name}.
func (r *resolver) boolArg(fn string, arg any) (bool, error) {
	v, err := r.resolve(arg)
	if err != nil {
		return false, fmt.Errorf("%s: %w", fn, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%s: the operand %v is not a condition", fn, v)
	}
	return b, nil
}

// conditionIntrinsic evaluates Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition and
// Fn::Split; ok is false for any other name.
func (r *resolver) conditionIntrinsic(name string, arg any) (_ any, ok bool, _ error) {
	switch name {
	case "Condition":
		s, isString := arg.(string)
		if !isString {
			return nil, true, fmt.Errorf("Condition: want a condition name, got %T", arg)
		}
		v, err := r.condition(s)
		return v, true, err
	case "Fn::If":
		l, isList := arg.([]any)
		if !isList || len(l) != 3 {
			return nil, true, fmt.Errorf("Fn::If: want [condition, value if true, value if false]")
		}
		cond, isString := l[0].(string)
		if !isString {
			return nil, true, fmt.Errorf("Fn::If: the condition is not a name")
		}
		b, err := r.condition(cond)
		if err != nil {
			return nil, true, fmt.Errorf("Fn::If: %w", err)
		}
		branch := l[2]
		if b {
			branch = l[1]
		}
		v, err := r.resolve(branch)
		if err != nil {
			return nil, true, fmt.Errorf("Fn::If: %w", err)
		}
		return v, true, nil
	case "Fn::Equals":
		l, isList := arg.([]any)
		if !isList || len(l) != 2 {
			return nil, true, fmt.Errorf("Fn::Equals: want [value, value]")
		}
		a, err := r.resolve(l[0])
		if err != nil {
			return nil, true, fmt.Errorf("Fn::Equals: %w", err)
		}
		b, err := r.resolve(l[1])
		if err != nil {
			return nil, true, fmt.Errorf("Fn::Equals: %w", err)
		}
		return scalarString(a) == scalarString(b), true, nil
	case "Fn::Not":
		l, isList := arg.([]any)
		if !isList || len(l) != 1 {
			return nil, true, fmt.Errorf("Fn::Not: want [condition]")
		}
		b, err := r.boolArg(name, l[0])
		return !b, true, err
	case "Fn::And", "Fn::Or":
		l, isList := arg.([]any)
		if !isList || len(l) < 2 || len(l) > 10 {
			return nil, true, fmt.Errorf("%s: want a list of 2 to 10 conditions", name)
		}
		and := name == "Fn::And"
		result := and
		for _, e := range l {
			b, err := r.boolArg(name, e)
			if err != nil {
				return nil, true, err
			}
			if and {
				result = result && b
			} else {
				result = result || b
			}
		}
		return result, true, nil
	case "Fn::Split":
		l, isList := arg.([]any)
		if !isList || len(l) != 2 {
			return nil, true, fmt.Errorf("Fn::Split: want [delimiter, string]")
		}
		delim, isString := l[0].(string)
		if !isString || delim == "" {
			return nil, true, fmt.Errorf("Fn::Split: the delimiter is not a non-empty string")
		}
		src, err := r.resolve(l[1])
		if err != nil {
			return nil, true, fmt.Errorf("Fn::Split: %w", err)
		}
		s, isString := src.(string)
		if !isString {
			return nil, true, fmt.Errorf("Fn::Split: the source is not a string")
		}
		parts := strings.Split(s, delim)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, true, nil
	}
	return nil, false, nil
}

// dropConditional removes the resources whose Condition is false, as CloudFormation does not
// create them.
func (r *resolver) dropConditional(resources map[string]any) error {
	for name, raw := range resources {
		res := raw.(map[string]any)
		c, ok := res["Condition"]
		if !ok || c == nil {
			continue
		}
		cond, ok := c.(string)
		if !ok {
			return fmt.Errorf("resource %s: Condition: want a condition name", name)
		}
		b, err := r.condition(cond)
		if err != nil {
			return fmt.Errorf("resource %s: %w", name, err)
		}
		if !b {
			delete(resources, name)
			delete(r.resources, name)
		}
	}
	return nil
}
