package workflow

import (
	"reflect"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	env := map[string]any{
		"input": map[string]any{"sender_did": "did:web:a", "amount": 0.25, "items": []any{"x", "y"}},
		"steps": map[string]any{"fraud": map[string]any{"risk_score": 0.2, "output": map[string]any{"risk_score": 0.2}}},
	}
	for _, tc := range []struct {
		in   any
		want any
	}{
		{"{{input.amount}}", 0.25},                                              // alone: keeps the type
		{"{{ input.sender_did }}", "did:web:a"},                                 // spaces inside the braces
		{"did={{input.sender_did}} n={{input.amount}}", "did=did:web:a n=0.25"}, // inside text
		{"{{input.items.1}}", "y"},                                              // list index
		{"{{steps.missing.x}}", nil},                                            // missing: null
		{"plain text", "plain text"},
		{"=input.amount * 4", 1.0},
		{map[string]any{"m": map[string]any{"r": "{{steps.fraud.risk_score}}"}}, map[string]any{"m": map[string]any{"r": 0.2}}},
		{[]any{"{{input.amount}}", 3}, []any{0.25, 3}},
	} {
		tpl, err := compileTemplate(tc.in)
		if err != nil {
			t.Fatalf("%v: %v", tc.in, err)
		}
		got, err := tpl.eval(env)
		if err != nil {
			t.Fatalf("%v: %v", tc.in, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v = %#v, want %#v", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"{{input amount}}", "=input.amount +", "{{}}"} {
		if _, err := compileTemplate(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

func TestConditions(t *testing.T) {
	env := map[string]any{"steps": map[string]any{
		"verify": map[string]any{"sender_verified": true},
		"fraud":  map[string]any{"risk_score": 0.9},
		"pay":    map[string]any{"status": "success"},
	}}
	for src, want := range map[string]bool{
		"steps.verify.sender_verified && steps.fraud.risk_score < 0.7":  false,
		"steps.verify.sender_verified && steps.fraud.risk_score >= 0.7": true,
		"steps.pay.status == 'success'":                                 true,
	} {
		c, err := compileCondition(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.holds(env)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	c, _ := compileCondition("steps.nothing.score < 0.7")
	if _, err := c.holds(env); err == nil || !strings.Contains(err.Error(), "steps.nothing.score") {
		t.Errorf("a missing value compared: %v", err)
	}
}

// FuzzTemplate: any string compiles or is refused, and a compiled one evaluates without
// panicking, whatever the context holds.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{input.a}}", "x {{steps.b.output.0}} y", "=input.a * 2", "{{}}", "={{", "{{a.b}}{{c}}", "=steps.x.y < 0.7"} {
		f.Add(s)
	}
	env := map[string]any{"input": map[string]any{"a": 1.5, "l": []any{"x"}}, "steps": map[string]any{"b": map[string]any{"output": []any{1.0}}}}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := compileTemplate(s)
		if err == nil {
			_, _ = tpl.eval(env)
		}
		if c, err := compileCondition(s); err == nil {
			_, _ = c.holds(env)
		}
	})
}
