package transform

import (
	"encoding/json"
	"fmt"

	"github.com/expr-lang/expr/ast"
)

// Functions runs the plugin functions expressions call as plugin.NAME.FUNCTION(x): the
// argument (a list of them when there are several) goes in as JSON, the output comes
// back as JSON.
type Functions interface {
	Call(plugin, function string, input []byte) ([]byte, error)
}

// Option changes how a template or condition is compiled.
type Option func(*options)

type options struct{ functions Functions }

// WithFunctions lets expressions call plugin functions through f.
func WithFunctions(f Functions) Option { return func(o *options) { o.functions = f } }

func optionsOf(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// pluginRoot is the name under which expressions reach plugin functions; a message
// field of that name is hidden from an expression that calls one.
const pluginRoot = "plugin"

// pluginCalls finds plugin.NAME.FUNCTION(…) in a compiled expression and returns the
// environment entry that serves them: {NAME: {FUNCTION: func}}; nil when there is none.
func pluginCalls(root ast.Node, f Functions) (map[string]any, error) {
	var calls map[string]any
	var err error
	ast.Find(root, func(n ast.Node) bool {
		c, ok := n.(*ast.CallNode)
		if !ok {
			return false
		}
		fn, ok := c.Callee.(*ast.MemberNode)
		if !ok {
			return false
		}
		ns, ok := fn.Node.(*ast.MemberNode)
		if !ok {
			return false
		}
		rootID, ok1 := ns.Node.(*ast.IdentifierNode)
		nsName, ok2 := ns.Property.(*ast.StringNode)
		fnName, ok3 := fn.Property.(*ast.StringNode)
		if !ok1 || !ok2 || !ok3 || rootID.Value != pluginRoot {
			return false
		}
		if f == nil {
			err = fmt.Errorf("plugin.%s.%s: plugin functions are not available here", nsName.Value, fnName.Value)
			return false
		}
		if calls == nil {
			calls = map[string]any{}
		}
		m, _ := calls[nsName.Value].(map[string]any)
		if m == nil {
			m = map[string]any{}
			calls[nsName.Value] = m
		}
		m[fnName.Value] = pluginFunc(f, nsName.Value, fnName.Value)
		return false
	})
	return calls, err
}

// pluginFunc is one plugin function as expr-lang calls it.
func pluginFunc(f Functions, plugin, function string) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		var arg any = args
		if len(args) == 1 {
			arg = args[0]
		}
		in, err := json.Marshal(arg)
		if err != nil {
			return nil, fmt.Errorf("plugin.%s.%s: %w", plugin, function, err)
		}
		out, err := f.Call(plugin, function, in)
		if err != nil {
			return nil, err
		}
		v, err := Decode(out)
		if err != nil {
			return nil, fmt.Errorf("plugin.%s.%s answered with output that is not JSON: %w", plugin, function, err)
		}
		return numbersForExpr(v), nil
	}
}
