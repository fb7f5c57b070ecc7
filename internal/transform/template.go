package transform

import (
	"fmt"
	"slices"
	"strings"
)

// Template is a compiled mapping template, the body of a transform step: a tree of
// objects and lists whose string leaves say where each output value comes from.
//
//	"$…"           JSONPath over the input. A definite path gives its value, or null when
//	               it matches nothing; any other path ("$.items[*]") gives the list of
//	               all matches, possibly empty, never null.
//	"=expr"        an expr-lang expression over the input ("=total * 2", "=upper(name)");
//	               the environment is the one conditions see (see the package comment).
//	"\$…", "\=…"   the literal string without its leading backslash.
//	anything else  a literal: other strings, numbers, booleans and null.
//
// A Template is safe for concurrent use.
type Template struct {
	opts   options
	root   *node
	fields []field    // message fields read by any "=" leaf
	whole  bool       // some "=" leaf uses $env
	reads  projection // what DecodeFor builds (nil: everything)
}

type nodeKind uint8

const (
	literalNode nodeKind = iota
	pathNode
	exprNode
	objectNode
	listNode
)

// node is one place of the template; at is its key path, for error messages.
type node struct {
	kind     nodeKind
	at       string
	literal  any
	path     *Path
	expr     *expression
	keys     []string // objectNode: sorted, children in the same order
	children []*node  // objectNode and listNode
}

// CompileTemplate compiles a template as the configuration decoder produces it:
// map[string]any, []any, string, int64, int, float64, json.Number, bool and nil. Errors
// name the place in the template: `customer.email: invalid JSONPath "$.x[" …`.
func CompileTemplate(tmpl any, opts ...Option) (*Template, error) {
	t := &Template{opts: optionsOf(opts)}
	root, err := t.compile(tmpl, "")
	if err != nil {
		return nil, err
	}
	t.root = root
	t.reads = t.projection()
	return t, nil
}

// compile compiles the template value v found at at ("" at the top).
func (t *Template) compile(v any, at string) (*node, error) {
	switch v := v.(type) {
	case string:
		return t.compileString(v, at)
	case map[string]any:
		return t.compileObject(v, at)
	case []any:
		return t.compileList(v, at)
	}
	lit, err := fromConfig(v)
	if err != nil {
		return nil, errorAt(at, err)
	}
	return &node{kind: literalNode, at: at, literal: lit}, nil
}

// errorAt names where in the template err is, unless that is the top.
func errorAt(at string, err error) error {
	if at == "" {
		return err
	}
	return fmt.Errorf("%s: %w", at, err)
}

// compileString compiles a leaf: a path ("$…"), an expression ("=…"), or text, in
// which a leading \$ or \= stands for $ or =.
func (t *Template) compileString(v, at string) (*node, error) {
	switch {
	case strings.HasPrefix(v, "$"):
		p, err := CompilePath(v)
		if err != nil {
			return nil, errorAt(at, err)
		}
		return &node{kind: pathNode, at: at, path: p}, nil
	case strings.HasPrefix(v, "="):
		e, err := compileExpression(v[1:], false, t.opts)
		if err != nil {
			return nil, errorAt(at, fmt.Errorf("invalid expression %q: %w", v[1:], err))
		}
		t.whole = t.whole || e.whole
		t.fields = mergeFields(t.fields, e)
		return &node{kind: exprNode, at: at, expr: e}, nil
	case strings.HasPrefix(v, `\$`), strings.HasPrefix(v, `\=`):
		return &node{kind: literalNode, at: at, literal: v[1:]}, nil
	}
	return &node{kind: literalNode, at: at, literal: v}, nil
}

func (t *Template) compileObject(obj map[string]any, at string) (*node, error) {
	n := &node{kind: objectNode, at: at, keys: make([]string, 0, len(obj))}
	for k := range obj {
		n.keys = append(n.keys, k)
	}
	slices.Sort(n.keys) // the first error reported is the same every time
	for _, k := range n.keys {
		c, err := t.compile(obj[k], keyPath(at, k))
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	return n, nil
}

func (t *Template) compileList(list []any, at string) (*node, error) {
	n := &node{kind: listNode, at: at, children: make([]*node, len(list))}
	for i, e := range list {
		c, err := t.compile(e, indexPath(at, i))
		if err != nil {
			return nil, err
		}
		n.children[i] = c
	}
	return n, nil
}

// Apply builds the output for one message. Only "=" leaves can fail; the error names
// the leaf. The output shares sub-trees with doc where a path selects them.
func (t *Template) Apply(doc any) (any, error) {
	a := application{t: t, doc: doc}
	out, err := a.value(t.root)
	if a.env != nil {
		releaseEnv(a.env)
	}
	return out, err
}

// application is the state of one Apply: the expression environment, built on first
// use and shared by every "=" leaf.
type application struct {
	t   *Template
	doc any
	env map[string]any
}

func (a *application) value(n *node) (any, error) {
	switch n.kind {
	case literalNode:
		return n.literal, nil
	case pathNode:
		if n.path.Definite() {
			v, _ := n.path.First(a.doc)
			return v, nil
		}
		all := n.path.All(a.doc)
		if all == nil {
			all = []any{}
		}
		return all, nil
	case exprNode:
		if a.env == nil {
			a.env = exprEnv(a.doc, a.t.fields, a.t.whole)
		}
		out, err := n.expr.run(a.env, a.doc)
		if err == nil {
			out, err = fromExpr(out)
		}
		if err != nil {
			return a.fail(n, fmt.Errorf("expression %q: %w", n.expr.src, err))
		}
		return out, nil
	case objectNode:
		out := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			v, err := a.value(n.children[i])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case listNode:
		out := make([]any, len(n.children))
		for i, c := range n.children {
			v, err := a.value(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	panic(fmt.Sprintf("transform: unknown template node kind %d", n.kind))
}

func (a *application) fail(n *node, err error) (any, error) {
	if n.at == "" {
		return nil, err
	}
	return nil, fmt.Errorf("%s: %w", n.at, err)
}
