package transform

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpressionCountedFields(t *testing.T) {
	tests := []struct {
		src     string
		counted []string // fields only ever given to len()
		other   []string // the other fields
	}{
		{src: "len(orderItems)", counted: []string{"orderItems"}},
		{src: "len(items) > 0 && len(items) < 5", counted: []string{"items"}},
		{src: "len(items) > 0 && items[0].price > 1", other: []string{"items"}},
		{src: "len(items) + total", counted: []string{"items"}, other: []string{"total"}},
		{src: "len($)", counted: []string{"$"}},
		{src: "len(filter(items, .price > 1))", other: []string{"items"}},
		{src: "len(items[0])", other: []string{"items"}},
		{src: "let x = items; len(x)", other: []string{"items"}},
		{src: "$env.a > len(b)", counted: []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := compileExpression(tt.src, false, options{})
			if err != nil {
				t.Fatal(err)
			}
			var counted, other []string
			for _, f := range e.fields {
				if f.counted {
					counted = append(counted, f.name)
				} else {
					other = append(other, f.name)
				}
			}
			if !slices.Equal(counted, tt.counted) || !slices.Equal(other, tt.other) {
				t.Errorf("counted %q, other %q; want %q, %q", counted, other, tt.counted, tt.other)
			}
		})
	}
}

// TestExpressionCountedFieldsSameResult checks, over messages whose fields have every
// kind of value, that handing counted fields to expr-lang unconverted gives the results
// and errors that converting them gives.
func TestExpressionCountedFieldsSameResult(t *testing.T) {
	exprs := []string{
		"len(v)", "len(v) > 1", "len(v) + len(w)", "len($)", "len(v) == len($)", "len(missing)",
		"len(v) > 0 ? len(v) : -1", "len(v) * 1.5",
	}
	values := []string{
		`[]`, `[1, 2.5, "x"]`, `[{"price": 19.99, "qty": 2}, {"price": 1e400}]`, `{"a": 1, "b": {"c": 2}}`, `{}`,
		`"héllo"`, `""`, `1000`, `12345678901234567890`, `-0.5`, `true`, `null`,
	}
	for _, src := range exprs {
		e, err := compileExpression(src, false, options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			for _, w := range []string{`[1]`, `7`} {
				doc := mustDecode(t, fmt.Sprintf(`{"v": %s, "w": %s}`, v, w))
				got, gotErr := e.run(exprEnv(doc, e.fields, e.whole), doc)
				converted := slices.Clone(e.fields)
				for i := range converted {
					converted[i].counted = false
				}
				want, wantErr := e.run(exprEnv(doc, converted, e.whole), doc)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !cmp.Equal(got, want) {
					t.Errorf("%s over v=%s w=%s: %v, %v; converted: %v, %v", src, v, w, got, gotErr, want, wantErr)
				}
			}
		}
	}
}
