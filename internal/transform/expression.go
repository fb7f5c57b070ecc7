package transform

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// expression is a compiled expr-lang program together with the top-level fields it
// reads, so an evaluation converts only those fields of the message (see the package
// comment).
type expression struct {
	src     string
	program *vm.Program
	fields  []field // referenced message fields, "$" included when used
	whole   bool    // $env is used: every field must be present
	// plugins serves plugin.NAME.FUNCTION(…) calls (pluginRoot in the environment); nil
	// when the expression calls none.
	plugins map[string]any
}

// field is a top-level field an expression reads. counted says it is only ever the
// argument of len(): its length is the same whether or not the numbers inside it are
// converted, so a container is handed to expr-lang as it is instead of copied with its
// numbers converted ("=len(orderItems)" over a list of item objects). A number is still
// converted, so len(total) fails as it does on a converted number.
type field struct {
	name    string
	counted bool
}

// compileExpression compiles src against an open map environment: any name compiles and
// reads as nil when the message lacks it.
func compileExpression(src string, asBool bool, o options) (*expression, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	opts := []expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables()}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	program, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, errors.New(oneLine(err))
	}
	e := &expression{src: src, program: program}
	declared := map[string]bool{}
	lenArgs := map[*ast.IdentifierNode]bool{}
	ast.Find(program.Node(), func(n ast.Node) bool {
		if b, ok := n.(*ast.BuiltinNode); ok && b.Name == "len" && len(b.Arguments) == 1 {
			if id, ok := b.Arguments[0].(*ast.IdentifierNode); ok {
				lenArgs[id] = true
			}
		}
		return false
	})
	ast.Find(program.Node(), func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			if n.Value == "$env" {
				e.whole = true
				break
			}
			i := slices.IndexFunc(e.fields, func(f field) bool { return f.name == n.Value })
			if i < 0 {
				e.fields = append(e.fields, field{name: n.Value, counted: true})
				i = len(e.fields) - 1
			}
			e.fields[i].counted = e.fields[i].counted && lenArgs[n]
		case *ast.VariableDeclaratorNode:
			declared[n.Name] = true // "let x = …": x is not a message field
		}
		return false
	})
	e.fields = slices.DeleteFunc(e.fields, func(f field) bool { return declared[f.name] })
	plugins, err := pluginCalls(program.Node(), o.functions)
	if err != nil {
		return nil, err
	}
	if plugins != nil {
		e.plugins = plugins
		e.fields = slices.DeleteFunc(e.fields, func(f field) bool { return f.name == pluginRoot })
	}
	return e, nil
}

// oneLine drops the source snippet expr-lang appends to its errors (two extra lines
// with a caret), keeping "message (line:column)", which fits a log line or step failure.
func oneLine(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) && fe.Snippet != "" {
		return strings.TrimSuffix(err.Error(), fe.Snippet)
	}
	return err.Error()
}

// mergeFields adds the fields of e to a template's list; a field is counted only if
// every expression only counts it.
func mergeFields(fields []field, e *expression) []field {
	for _, f := range e.fields {
		if i := slices.IndexFunc(fields, func(g field) bool { return g.name == f.name }); i >= 0 {
			fields[i].counted = fields[i].counted && f.counted
		} else {
			fields = append(fields, f)
		}
	}
	return fields
}

// exprEnv builds the environment for a message: the named fields (all of them when
// whole), with numbers converted, and "$" for the whole message.
func exprEnv(doc any, fields []field, whole bool) map[string]any {
	obj, isObject := doc.(map[string]any)
	var env map[string]any
	dollar := field{name: "$"}
	if whole {
		env = envPool.Get().(map[string]any)
		for k, v := range obj {
			env[k] = numbersForExpr(v)
		}
		env["$"] = nil // set below
	} else {
		env = envPool.Get().(map[string]any)
		for _, f := range fields {
			if f.name == "$" {
				env["$"], dollar = nil, f // set below
			} else if v, ok := obj[f.name]; ok {
				env[f.name] = fieldForExpr(v, f.counted)
			}
		}
	}
	if _, ok := env["$"]; ok || !isObject {
		env["$"] = fieldForExpr(doc, dollar.counted)
	}
	return env
}

// envPool reuses environments: one map per evaluation was a good part of a small
// condition's garbage. Nothing keeps an environment after the evaluation: expr-lang's
// VM drops it, a condition's result is a boolean, and a template's "=" results are
// rebuilt by fromExpr.
var envPool = sync.Pool{New: func() any { return make(map[string]any, 8) }}

// releaseEnv returns an environment from exprEnv to the pool.
func releaseEnv(env map[string]any) {
	if len(env) > 64 {
		return // a $env over a large message: let it go
	}
	clear(env)
	envPool.Put(env)
}

// fieldForExpr converts a field's value for expr-lang; see field for counted.
func fieldForExpr(v any, counted bool) any {
	if counted {
		if n, ok := v.(json.Number); ok {
			return exprNumber(n)
		}
		return v
	}
	return numbersForExpr(v)
}

// vmPool reuses expr-lang virtual machines: vm.Run allocates a fresh one with its
// stack for every evaluation, which is most of the garbage of a small condition.
var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// run evaluates e over env; a failure names the missing fields the expression reads,
// the usual reason for "invalid operation: <nil> >= int".
func (e *expression) run(env map[string]any, doc any) (any, error) {
	if e.plugins != nil {
		env[pluginRoot] = e.plugins
	}
	m := vmPool.Get().(*vm.VM)
	out, err := m.Run(e.program, env)
	// drop references to the message before pooling (Run only truncates its stacks)
	clear(m.Stack[:cap(m.Stack)])
	clear(m.Scopes[:cap(m.Scopes)])
	clear(m.Variables)
	vmPool.Put(m)
	if err != nil {
		msg := oneLine(err)
		if missing := e.missing(doc); len(missing) > 0 {
			msg += "; the message has no field " + strings.Join(missing, ", ")
		}
		return nil, errors.New(msg)
	}
	return out, nil
}

// missing lists, quoted, the fields e reads that doc does not have.
func (e *expression) missing(doc any) []string {
	obj, isObject := doc.(map[string]any)
	var out []string
	for _, f := range e.fields {
		if f.name == "$" {
			continue
		}
		if _, ok := obj[f.name]; !ok || !isObject {
			out = append(out, strconv.Quote(f.name))
		}
	}
	return out
}
