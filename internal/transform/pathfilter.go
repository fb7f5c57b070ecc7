package transform

import (
	"fmt"
	"strings"

	"github.com/ohler55/ojg/jp"
)

// checkFilter rejects a filter that compares a query which can match several values
// ("@.*", "@..sku", "@.tags[0:2]"), as RFC 9535 does (only singular queries are
// comparable). ojg compares every combination of the values and stops at the first
// that holds, and the values of a wildcard over an object come in map order: the
// result, or whether the comparison of two arrays panics on the way, changed from one
// evaluation to the next (found by FuzzCompilePath). Such a query may still be tested
// for existence ("[?(@.tags[*])]") or counted ("count(@.tags[*]) > 1").
func checkFilter(f *jp.Filter) error {
	top, err := inspect(f)
	if err != nil {
		return err
	}
	return checkOperands(top, true)
}

// inspect returns the top of a filter's script: a *jp.Form, or the jp.Expr of a filter
// that is one existence test ("[?(@.tags)]"), on which ojg's Inspect panics (v1.28.5).
func inspect(f *jp.Filter) (top any, err error) {
	defer func() {
		if recover() != nil {
			src := strings.TrimSuffix(strings.TrimPrefix(f.String(), "[?("), ")]")
			if top, err = jp.ParseString(src); err != nil {
				err = fmt.Errorf("filter %s: %v", f, err)
			}
		}
	}()
	return f.Inspect(), nil
}

// checkOperands walks a filter's form; tested says whether v's truth alone is used
// (under &&, ||, ! or at the top), where a plural query is an existence test.
func checkOperands(v any, tested bool) error {
	switch t := v.(type) {
	case *jp.Form:
		switch t.Op {
		case "count":
			return nil // counts the matches of its query, in any order
		case "&&", "||", "!":
			tested = true
		case "(":
		default:
			tested = false
		}
		if err := checkOperands(t.Left, tested); err != nil {
			return err
		}
		return checkOperands(t.Right, tested)
	case jp.Expr:
		if !tested && !singular(t) {
			return fmt.Errorf("%s can match several values and cannot be compared (use a single member or index, or count())", t)
		}
		for _, frag := range t {
			if inner, ok := frag.(*jp.Filter); ok {
				if err := checkFilter(inner); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// singular reports whether a query names at most one value: only member names and
// indices after "@" or "$".
func singular(x jp.Expr) bool {
	for _, frag := range x {
		switch frag.(type) {
		case jp.At, jp.Root, jp.Child, jp.Nth, jp.Bracket:
		default:
			return false
		}
	}
	return true
}
