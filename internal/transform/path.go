package transform

import (
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// Path is a compiled JSONPath expression: "$" (the whole message), "$.orderId",
// "$.orderItems[*]", "$.customer['first name']", "$..sku", "$.items[?(@.price > 10)]" and
// the rest of the syntax github.com/ohler55/ojg/jp parses. Object members matched by a
// wildcard or descent come in no particular order. A Path is safe for concurrent use.
type Path struct {
	src      string
	expr     jp.Expr
	steps    []step // the whole path, when it has only names, indices, wildcards and descents
	definite bool   // steps has no wildcard
	// filter is set when the path holds a filter: it is evaluated on a copy of the
	// message whose numbers are int64/float64 (ojg compares json.Number as a string, so
	// "@.price > 10" would never match), and the matches are then read from the message
	// itself, so they keep their json.Number numbers.
	filter bool
}

// step is one member name, array index, wildcard or descent (..) of a path simple enough
// to be walked here rather than by ojg, whose Get allocates a 64-entry stack per call
// (most of the cost of "$.orderItems[*]"), and whose results for a descent after a
// wildcard ("$.*..sku") depend on map order (found by FuzzCompilePath).
type step struct {
	key      string
	index    int
	isIndex  bool
	wildcard bool
	descent  bool
}

// maxDescents is how many ".." a path may hold (see CompilePath).
const maxDescents = 3

// CompilePath parses a JSONPath expression, which must start at the root ("$").
func CompilePath(src string) (*Path, error) {
	if !strings.HasPrefix(src, "$") {
		return nil, fmt.Errorf("invalid JSONPath %q: must start with $", src)
	}
	x, err := jp.ParseString(src)
	if err != nil {
		return nil, fmt.Errorf("invalid JSONPath %q%s", src, parseReason(err, src))
	}
	// Each descent visits every value below the one before it, so k descents cost
	// (message size)^k: "$..........x" hung the fuzzer. Real paths use one or two.
	descents := 0
	for _, f := range x {
		if _, ok := f.(jp.Descent); ok {
			descents++
		}
	}
	if descents > maxDescents {
		return nil, fmt.Errorf("invalid JSONPath %q: %d descents (..), at most %d", src, descents, maxDescents)
	}
	p := &Path{src: src, expr: x}
	p.steps, p.definite = simpleSteps(x)
	for _, f := range x {
		if filter, ok := f.(*jp.Filter); ok {
			if err := checkFilter(filter); err != nil {
				return nil, fmt.Errorf("invalid JSONPath %q: %v", src, err)
			}
			p.filter = true
		}
	}
	return p, nil
}

// parseReason turns ojg's "not terminated at 5 in $.a[" into ` at character 5: not
// terminated`, so the expression is not repeated in the message.
func parseReason(err error, src string) string {
	msg := strings.TrimSuffix(err.Error(), " in "+src)
	if i := strings.LastIndex(msg, " at "); i >= 0 {
		return " at character " + msg[i+len(" at "):] + ": " + msg[:i]
	}
	return ": " + msg
}

// simpleSteps returns the steps of a path made only of member names, indices, wildcards
// and descents (nil for any other path), and whether it has neither of the last two.
func simpleSteps(x jp.Expr) (steps []step, definite bool) {
	steps = make([]step, 0, len(x))
	definite = true
	for _, f := range x {
		switch f := f.(type) {
		case jp.Root, jp.Bracket:
			// the start, and a marker that the path was written with brackets
		case jp.Child:
			steps = append(steps, step{key: string(f)})
		case jp.Nth:
			steps = append(steps, step{index: int(f), isIndex: true})
		case jp.Wildcard:
			steps = append(steps, step{wildcard: true})
			definite = false
		case jp.Descent:
			steps = append(steps, step{descent: true})
			definite = false
		default:
			return nil, false
		}
	}
	return steps, definite
}

// String returns the expression as written.
func (p *Path) String() string { return p.src }

// Definite reports whether the path can match at most one value: it has no wildcard,
// slice, filter, descent or union.
func (p *Path) Definite() bool { return p.definite }

// First returns the first match; false when nothing matches.
func (p *Path) First(doc any) (any, bool) {
	if p.definite {
		return walk(doc, p.steps)
	}
	if p.steps != nil {
		var first any
		found := false
		walkAll(doc, p.steps, func(v any) bool {
			first, found = v, true
			return false
		})
		return first, found
	}
	// Other paths (slices, unions, filters) take the first of all matches: ojg's
	// FirstFound and Get can disagree.
	if all := p.All(doc); len(all) > 0 {
		return all[0], true
	}
	return nil, false
}

// All returns every match, in document order for arrays; an empty (nil) slice when
// nothing matches.
func (p *Path) All(doc any) []any {
	if p.definite {
		if v, ok := walk(doc, p.steps); ok {
			return []any{v}
		}
		return nil
	}
	if p.steps != nil {
		var out []any
		walkAll(doc, p.steps, func(v any) bool {
			out = append(out, v)
			return true
		})
		return out
	}
	if p.filter {
		return p.filtered(doc)
	}
	return p.expr.Get(doc)
}

// filtered finds the matches of a path with a filter in a copy of doc whose numbers
// ojg can compare, in document order, and reads each from doc itself by its location.
//
// ojg (v1.28.5) panics when a filter compares two arrays or objects ($[?$!=$]: "comparing
// uncomparable type"); such a filter matches nothing here instead of stopping the flow
// (the fuzz corpus keeps the case).
func (p *Path) filtered(doc any) (out []any) {
	defer func() {
		if recover() != nil {
			out = nil
		}
	}()
	p.expr.Walk(numbersForExpr(doc), func(loc jp.Expr, _ []any) {
		if steps, definite := simpleSteps(loc); definite { // locations always are
			if v, ok := walk(doc, steps); ok {
				out = append(out, v)
			}
		}
	})
	return out
}

// walk follows member names and indices (negative ones count from the end, as in ojg).
func walk(v any, steps []step) (any, bool) {
	for _, s := range steps {
		if s.isIndex {
			list, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := s.index
			if i < 0 {
				i += len(list)
			}
			if i < 0 || i >= len(list) {
				return nil, false
			}
			v = list[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[s.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// walkAll calls yield for each match of steps, which may hold wildcards and descents, in document
// order (object members in map order, as ojg does); yield returns false to stop.
func walkAll(v any, steps []step, yield func(any) bool) bool {
	for i, s := range steps {
		if !s.wildcard && !s.descent {
			var ok bool
			if v, ok = walk(v, steps[i:i+1]); !ok {
				return true
			}
			continue
		}
		rest := steps[i+1:]
		if s.descent {
			return descend(v, rest, yield)
		}
		switch t := v.(type) {
		case []any:
			for _, e := range t {
				if !walkAll(e, rest, yield) {
					return false
				}
			}
		case map[string]any:
			for _, e := range t {
				if !walkAll(e, rest, yield) {
					return false
				}
			}
		}
		return true
	}
	return yield(v)
}

// descend applies the rest of a path after ".." to v and to every value below it.
func descend(v any, rest []step, yield func(any) bool) bool {
	if !walkAll(v, rest, yield) {
		return false
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if !descend(e, rest, yield) {
				return false
			}
		}
	case map[string]any:
		for _, e := range t {
			if !descend(e, rest, yield) {
				return false
			}
		}
	}
	return true
}
