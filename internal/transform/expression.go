package transform

import (
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

// expression is a compiled expr-lang program together with the top-level names it reads,
// so an evaluation converts only those fields of the message (see the package comment).
type expression struct {
	src     string
	program *vm.Program
	names   []string // referenced message fields, "$" included when used
	whole   bool     // $env is used: every field must be present
}

// compileExpression compiles src against an open map environment: any name compiles and
// reads as nil when the message lacks it.
func compileExpression(src string, asBool bool) (*expression, error) {
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
	ast.Find(program.Node(), func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			if n.Value == "$env" {
				e.whole = true
			} else if !slices.Contains(e.names, n.Value) {
				e.names = append(e.names, n.Value)
			}
		case *ast.VariableDeclaratorNode:
			declared[n.Name] = true // "let x = …": x is not a message field
		}
		return false
	})
	e.names = slices.DeleteFunc(e.names, func(n string) bool { return declared[n] })
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

// mergeNames adds the names of e to a template's list.
func mergeNames(names []string, e *expression) []string {
	for _, n := range e.names {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// exprEnv builds the environment for a message: the named fields (all of them when
// whole), with numbers converted, and "$" for the whole message.
func exprEnv(doc any, names []string, whole bool) map[string]any {
	obj, isObject := doc.(map[string]any)
	var env map[string]any
	if whole {
		env = make(map[string]any, len(obj)+1)
		for k, v := range obj {
			env[k] = numbersForExpr(v)
		}
		env["$"] = nil // set below
	} else {
		env = make(map[string]any, len(names))
		for _, n := range names {
			if n == "$" {
				env["$"] = nil // set below
			} else if v, ok := obj[n]; ok {
				env[n] = numbersForExpr(v)
			}
		}
	}
	if _, ok := env["$"]; ok || !isObject {
		env["$"] = numbersForExpr(doc)
	}
	return env
}

// vmPool reuses expr-lang virtual machines: vm.Run allocates a fresh one with its
// stack for every evaluation, which is most of the garbage of a small condition.
var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// run evaluates e over env; a failure names the missing fields the expression reads,
// the usual reason for "invalid operation: <nil> >= int".
func (e *expression) run(env map[string]any, doc any) (any, error) {
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
	for _, n := range e.names {
		if n == "$" {
			continue
		}
		if _, ok := obj[n]; !ok || !isObject {
			out = append(out, strconv.Quote(n))
		}
	}
	return out
}
