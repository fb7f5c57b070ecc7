package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/transform"
)

// item is a message on its way through the steps: its document and, once a route step
// chose, the sinks it goes to (nil: every sink).
type item struct {
	doc   any
	sinks []string
}

// step is one compiled step. run turns one item into the items that go on: none when a
// filter or route drops it, several when split divides it.
type step struct {
	name string
	kind string
	run  func(ctx context.Context, it item) ([]item, *StepError)
	// decode, set on a transform, decodes a message for this step alone (only what its
	// template reads): the flow uses it when the transform is the first step.
	decode func([]byte) (any, error)
}

// Caller calls integration operations for enrich steps.
type Caller interface {
	CallOperation(ctx context.Context, integration, operation string, params map[string]any, body []byte) (status int, answer []byte, err error)
}

// compileStep builds a step from its configuration; every expression, path and schema
// is compiled here, once, so a bad one stops the flow from starting instead of failing
// each message.
func compileStep(s *config.Step, caller func() Caller, plugins Plugins, last bool) (*step, error) {
	st := &step{name: s.Name, kind: s.Kind}
	fail := func(err error) (*step, error) {
		return nil, fmt.Errorf("%s: step %s: %w", s.Pos, s.Name, err)
	}
	funcs := transform.WithFunctions(pluginFunctions{plugins})
	switch s.Kind {
	case config.StepPlugin:
		st.run = pluginStep(s, plugins, last)
		st.decode = rawDecode
	case config.StepTransform:
		tmpl, err := transform.CompileTemplate(s.Template, funcs)
		if err != nil {
			return fail(err)
		}
		st.decode = tmpl.DecodeFor
		st.run = func(_ context.Context, it item) ([]item, *StepError) {
			out, err := tmpl.Apply(it.doc)
			if err != nil {
				return nil, permanent(s.Name, err)
			}
			it.doc = out
			return []item{it}, nil
		}
	case config.StepValidate:
		schema, err := compileSchema(s)
		if err != nil {
			return fail(err)
		}
		st.run = func(_ context.Context, it item) ([]item, *StepError) {
			if err := schema.Validate(it.doc); err != nil {
				return nil, permanent(s.Name, err)
			}
			return []item{it}, nil
		}
	case config.StepFilter:
		cond, err := transform.CompileCondition(s.Condition, funcs)
		if err != nil {
			return fail(err)
		}
		st.run = func(_ context.Context, it item) ([]item, *StepError) {
			keep, err := cond.Eval(it.doc)
			if err != nil {
				return nil, permanent(s.Name, err)
			}
			if !keep {
				return nil, nil
			}
			return []item{it}, nil
		}
	case config.StepRoute:
		run, err := compileRoute(s, funcs)
		if err != nil {
			return fail(err)
		}
		st.run = run
	case config.StepSplit:
		path, err := transform.CompilePath(s.Path)
		if err != nil {
			return fail(err)
		}
		st.run = func(_ context.Context, it item) ([]item, *StepError) {
			parts := path.All(it.doc)
			if len(parts) == 1 {
				if list, ok := parts[0].([]any); ok {
					parts = list
				}
			}
			out := make([]item, len(parts))
			for i, p := range parts {
				out[i] = item{doc: p, sinks: it.sinks}
			}
			return out, nil
		}
	case config.StepEnrich:
		run, err := compileEnrich(s, caller, funcs)
		if err != nil {
			return fail(err)
		}
		st.run = run
	default:
		return fail(fmt.Errorf("unknown step kind %q", s.Kind))
	}
	return st, nil
}

func compileSchema(s *config.Step) (*transform.Schema, error) {
	if s.SchemaFile != "" {
		// The decoder resolved the path against the configuration file's folder.
		return transform.CompileSchemaFile(s.SchemaFile)
	}
	return transform.CompileSchema(s.Schema)
}

// compileRoute: the first route whose condition holds chooses the sinks; a message no
// route takes is dropped (counted as filtered), like a filter's false.
func compileRoute(s *config.Step, funcs transform.Option) (func(context.Context, item) ([]item, *StepError), error) {
	type route struct {
		cond *transform.Condition // nil for else
		to   []string
	}
	routes := make([]route, 0, len(s.Routes))
	for _, r := range s.Routes {
		rt := route{to: r.To}
		if r.When != "" {
			c, err := transform.CompileCondition(r.When, funcs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.Pos, err)
			}
			rt.cond = c
		}
		routes = append(routes, rt)
	}
	return func(_ context.Context, it item) ([]item, *StepError) {
		for _, r := range routes {
			if r.cond != nil {
				ok, err := r.cond.Eval(it.doc)
				if err != nil {
					return nil, permanent(s.Name, fmt.Errorf("%s: %w", r.cond, err))
				}
				if !ok {
					continue
				}
			}
			it.sinks = r.to
			return []item{it}, nil
		}
		return nil, nil
	}, nil
}

// compileEnrich: the operation's answer, decoded, becomes the member `as` of the message
// (by default the operation's name). Answers 429 and 5xx, and Junction's own failures
// (circuit open, timeout), are retried; other 4xx answers are permanent.
func compileEnrich(s *config.Step, caller func() Caller, funcs transform.Option) (func(context.Context, item) ([]item, *StepError), error) {
	params, err := transform.CompileTemplate(anyMap(s.Params), funcs)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	as := s.As
	if as == "" {
		as = s.Operation
	}
	return func(ctx context.Context, it item) ([]item, *StepError) {
		obj, ok := it.doc.(map[string]any)
		if !ok {
			return nil, permanent(s.Name, fmt.Errorf("the message is not a JSON object, so %q cannot be added to it", as))
		}
		p, err := params.Apply(it.doc)
		if err != nil {
			return nil, permanent(s.Name, fmt.Errorf("params: %w", err))
		}
		pm, _ := p.(map[string]any)
		c := caller()
		if c == nil {
			return nil, transient(s.Name, errors.New("integrations are not available here"))
		}
		status, body, err := c.CallOperation(ctx, s.Integration, s.Operation, pm, nil)
		if err != nil {
			return nil, transient(s.Name, fmt.Errorf("%s.%s: %w", s.Integration, s.Operation, err))
		}
		if status < 200 || status > 299 {
			e := fmt.Errorf("%s.%s answered %d: %s", s.Integration, s.Operation, status, excerpt(body))
			if status == 429 || status >= 500 {
				return nil, transient(s.Name, e)
			}
			return nil, permanent(s.Name, e)
		}
		var result any
		if len(body) > 0 {
			if result, err = transform.Decode(body); err != nil {
				return nil, permanent(s.Name, fmt.Errorf("%s.%s answered with a body that is not JSON: %w", s.Integration, s.Operation, err))
			}
		}
		// Copy: a split before this step may share the map between items.
		next := make(map[string]any, len(obj)+1)
		maps.Copy(next, obj)
		next[as] = result
		it.doc = next
		return []item{it}, nil
	}, nil
}

func anyMap(m map[string]any) any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// excerpt shortens an answer body for an error message.
func excerpt(b []byte) string {
	const limit = 200
	s := strings.TrimSpace(string(b))
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	if json.Valid([]byte(s)) || s == "" {
		return s
	}
	return fmt.Sprintf("%q", s)
}
