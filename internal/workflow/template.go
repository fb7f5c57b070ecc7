package workflow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// A template is a compiled input, output mapping or match value (config.Workflow says how
// they are written), evaluated against a run's context: a map with input, workflow,
// steps and, in output mappings, output.
type template interface {
	eval(env map[string]any) (any, error)
}

// refPattern finds {{path}} in a string.
var refPattern = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// pathPattern is a dotted path: names and list indexes.
var pathPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$`)

// compileTemplate compiles a value of the configuration: a string, number, bool, nil,
// []any or map[string]any.
func compileTemplate(v any) (template, error) {
	switch v := v.(type) {
	case string:
		return compileString(v)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		o := objectTemplate{keys: keys, values: make([]template, len(keys))}
		for i, k := range keys {
			t, err := compileTemplate(v[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			o.values[i] = t
		}
		return o, nil
	case []any:
		l := make(listTemplate, len(v))
		for i, x := range v {
			t, err := compileTemplate(x)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = t
		}
		return l, nil
	}
	return literal{v}, nil
}

func compileString(s string) (template, error) {
	if src, ok := strings.CutPrefix(s, "="); ok {
		prog, err := expr.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", src, err)
		}
		return expression{prog: prog, src: src}, nil
	}
	matches := refPattern.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return literal{s}, nil
	}
	var parts []any // string or path
	last := 0
	for _, m := range matches {
		p := s[m[2]:m[3]]
		if !pathPattern.MatchString(p) {
			return nil, fmt.Errorf("{{%s}}: expected a path such as input.order_id or steps.check.output.total", p)
		}
		if m[0] > last {
			parts = append(parts, s[last:m[0]])
		}
		parts = append(parts, path(strings.Split(p, ".")))
		last = m[1]
	}
	if last < len(s) {
		parts = append(parts, s[last:])
	}
	if len(parts) == 1 {
		if p, ok := parts[0].(path); ok {
			return p, nil // "{{x}}" alone keeps x's type
		}
	}
	return interpolation(parts), nil
}

// literal is a value written as is.
type literal struct{ v any }

func (l literal) eval(map[string]any) (any, error) { return l.v, nil }

// path names a value of the context; a missing one is nil.
type path []string

func (p path) eval(env map[string]any) (any, error) { return lookup(env, p), nil }

func lookup(v any, p []string) any {
	for _, seg := range p {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// interpolation is text with {{path}} inside: the values are written into the text
// (strings as they are, anything else as JSON).
type interpolation []any

func (in interpolation) eval(env map[string]any) (any, error) {
	var b strings.Builder
	for _, part := range in {
		switch part := part.(type) {
		case string:
			b.WriteString(part)
		case path:
			switch v := lookup(env, part).(type) {
			case string:
				b.WriteString(v)
			case nil:
			default:
				j, _ := json.Marshal(v)
				b.Write(j)
			}
		}
	}
	return b.String(), nil
}

// expression is "=expr": an expr-lang expression over the context.
type expression struct {
	prog *vm.Program
	src  string
}

func (e expression) eval(env map[string]any) (any, error) {
	v, err := expr.Run(e.prog, env)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", e.src, err)
	}
	return v, nil
}

type objectTemplate struct {
	keys   []string
	values []template
}

func (o objectTemplate) eval(env map[string]any) (any, error) {
	m := make(map[string]any, len(o.keys))
	for i, k := range o.keys {
		v, err := o.values[i].eval(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}

type listTemplate []template

func (l listTemplate) eval(env map[string]any) (any, error) {
	out := make([]any, len(l))
	for i, t := range l {
		v, err := t.eval(env)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// condition is a step's `if`: an expr-lang expression that must give a boolean.
type condition struct {
	prog *vm.Program
	src  string
}

func compileCondition(src string) (*condition, error) {
	prog, err := expr.Compile(src, expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("condition %q: %w", src, err)
	}
	return &condition{prog: prog, src: src}, nil
}

func (c *condition) holds(env map[string]any) (bool, error) {
	v, err := expr.Run(c.prog, env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.src, err)
	}
	b, _ := v.(bool)
	return b, nil
}

// decodeJSON reads a stored or received JSON value into the plain form templates and
// expressions work on (numbers as float64, so that `risk_score < 0.7` compares).
func decodeJSON(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return v, nil
}
