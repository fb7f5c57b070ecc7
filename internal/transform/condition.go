package transform

import "fmt"

// Condition is a compiled boolean expr-lang expression over a message, used by filter and
// route steps: "total >= 1000", `customer.tier == "gold"`, "len(items) > 0",
// `status in ["a", "b"]`. The environment is described in the package comment. A
// Condition is safe for concurrent use.
type Condition struct {
	e *expression
}

// CompileCondition compiles src once. An expression that expr-lang can tell is not
// boolean ("1 + 2") is rejected here; one whose type depends on the message ("total")
// fails in Eval when the value is not a boolean.
func CompileCondition(src string, opts ...Option) (*Condition, error) {
	e, err := compileExpression(src, true, optionsOf(opts))
	if err != nil {
		return nil, fmt.Errorf("invalid condition %q: %w", src, err)
	}
	return &Condition{e: e}, nil
}

// String returns the condition as written.
func (c *Condition) String() string { return c.e.src }

// Eval evaluates the condition over doc. An error (a missing field compared with a
// number, a field of the wrong type) says why, naming missing fields, so the step can
// report the message as failed rather than routing it as if the condition were false.
func (c *Condition) Eval(doc any) (bool, error) {
	env := exprEnv(doc, c.e.fields, c.e.whole)
	out, err := c.e.run(env, doc)
	releaseEnv(env)
	if err != nil {
		return false, fmt.Errorf("condition %q: %w", c.e.src, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q: result %v is not a boolean", c.e.src, out)
	}
	return b, nil
}
