package transform

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompilePathErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"", `invalid JSONPath "": must start with $`},
		{"orderId", `invalid JSONPath "orderId": must start with $`},
		{"@.price", `invalid JSONPath "@.price": must start with $`},
		{"$.items[", `invalid JSONPath "$.items[" at character 9: not terminated`},
		{"$[", `invalid JSONPath "$[" at character 3: not terminated`},
		{"$.a b", `invalid JSONPath "$.a b" at character 4: parse error`},
		{"$.items[?(@.price >)]", `invalid JSONPath "$.items[?(@.price >)]"`},
		{"$.items.length()", `invalid JSONPath "$.items.length()" at character`},
		// a comparison of a query that can match several values (RFC 9535 allows only
		// singular ones): ojg's answer depended on map order
		{"$........x", `invalid JSONPath "$........x": 4 descents (..), at most 3`},
		{"$.a[?(@.* == 1)]", `invalid JSONPath "$.a[?(@.* == 1)]": @.* can match several values and cannot be compared`},
		{"$.a[?(@..* == @.c)]", `invalid JSONPath "$.a[?(@..* == @.c)]": @..* can match several values`},
		{"$.a[?(!(@.b[0:2] == 1))]", `invalid JSONPath "$.a[?(!(@.b[0:2] == 1))]": @.b[0:2] can match several values`},
		{"$.a[?(length(@.*) > 1)]", `invalid JSONPath "$.a[?(length(@.*) > 1)]": @.* can match several values`},
		{"$.a[?(@.b[?(@.x == @.*)])]", `invalid JSONPath "$.a[?(@.b[?(@.x == @.*)])]": @.* can match several values`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := CompilePath(tt.expr)
			if err == nil {
				t.Fatalf("CompilePath(%q) = %v, want an error", tt.expr, p)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("CompilePath(%q) error = %q, want prefix %q", tt.expr, err, tt.want)
			}
		})
	}
}

func TestPath(t *testing.T) {
	doc := mustDecode(t, `{
		"orderId": 12345678901234567890,
		"customer": {"id": "c1", "first name": "Ada", "tags": []},
		"orderItems": [
			{"sku": "a", "price": 19.99, "qty": 2},
			{"sku": "b", "price": 960.02, "qty": 1, "options": {"sku": "b-opt"}},
			{"sku": "c", "price": 5, "qty": 10}
		],
		"empty": null
	}`)
	items := doc.(map[string]any)["orderItems"].([]any)
	tests := []struct {
		expr      string
		definite  bool
		first     any
		found     bool
		all       []any
		sameItems bool // All returns the message's own item maps
	}{
		{expr: "$", definite: true, first: doc, found: true, all: []any{doc}},
		{expr: "$.orderId", definite: true, first: json.Number("12345678901234567890"), found: true, all: []any{json.Number("12345678901234567890")}},
		{expr: "$.customer.id", definite: true, first: "c1", found: true, all: []any{"c1"}},
		{expr: "$['customer']['first name']", definite: true, first: "Ada", found: true, all: []any{"Ada"}},
		{expr: "$.orderItems[1].sku", definite: true, first: "b", found: true, all: []any{"b"}},
		{expr: "$.orderItems[-1].sku", definite: true, first: "c", found: true, all: []any{"c"}},
		{expr: "$.empty", definite: true, first: nil, found: true, all: []any{nil}},
		{expr: "$.missing", definite: true},
		{expr: "$.customer.missing.deeper", definite: true},
		{expr: "$.orderItems[3]", definite: true},
		{expr: "$.orderItems[-4]", definite: true},
		{expr: "$.orderId.x", definite: true},
		{expr: "$.customer[0]", definite: true},
		{expr: "$.orderItems.sku", definite: true},
		{expr: "$.orderItems[*]", first: items[0], found: true, all: items, sameItems: true},
		{expr: "$.orderItems[*].sku", first: "a", found: true, all: []any{"a", "b", "c"}},
		{expr: "$.orderItems[0:2].qty", first: json.Number("2"), found: true, all: []any{json.Number("2"), json.Number("1")}},
		{expr: "$.orderItems[0,2].sku", first: "a", found: true, all: []any{"a", "c"}},
		{expr: "$..options.sku", first: "b-opt", found: true, all: []any{"b-opt"}},
		{expr: "$.customer.tags[*]", all: nil},
		{expr: "$.missing[*]", all: nil},
		{expr: "$.orderItems[?(@.sku == 'b')].price", first: json.Number("960.02"), found: true, all: []any{json.Number("960.02")}},
		// Filters compare numbers as numbers, and the matches keep their json.Number.
		{expr: "$.orderItems[?(@.price > 10)].sku", first: "a", found: true, all: []any{"a", "b"}},
		{expr: "$.orderItems[?(@.price > 100)]", first: items[1], found: true, all: []any{items[1]}, sameItems: true},
		{expr: "$.orderItems[?(@.qty >= 2 && @.price < 10)].price", first: json.Number("5"), found: true, all: []any{json.Number("5")}},
		{expr: "$.orderItems[?(@.price > 10000)]", all: nil},
		{expr: "$..[?(@.price > 10)].sku", first: "a", found: true, all: []any{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := CompilePath(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tt.expr {
				t.Errorf("String() = %q, want %q", p.String(), tt.expr)
			}
			if p.Definite() != tt.definite {
				t.Errorf("Definite() = %v, want %v", p.Definite(), tt.definite)
			}
			first, found := p.First(doc)
			if found != tt.found {
				t.Errorf("First found = %v, want %v", found, tt.found)
			}
			if diff := cmp.Diff(tt.first, first); diff != "" {
				t.Errorf("First (-want +got):\n%s", diff)
			}
			all := p.All(doc)
			if diff := cmp.Diff(tt.all, all); diff != "" {
				t.Errorf("All (-want +got):\n%s", diff)
			}
			if tt.sameItems {
				for i, v := range all {
					if !sameObject(v, tt.all[i]) {
						t.Errorf("All()[%d] is a copy, want the message's own value", i)
					}
				}
			}
		})
	}
}

// sameObject reports whether a and b are the same map (not just equal ones).
func sameObject(a, b any) bool {
	ma, ok1 := a.(map[string]any)
	mb, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return false
	}
	ma["\x00probe"] = true
	defer delete(ma, "\x00probe")
	_, same := mb["\x00probe"]
	return same
}

func TestPathFilterLeavesMessageUnchanged(t *testing.T) {
	doc := mustDecode(t, `{"items": [{"price": 12}, {"price": 3}]}`)
	before := mustEncode(t, doc)
	p, err := CompilePath("$.items[?(@.price > 10)]")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.All(doc); len(got) != 1 {
		t.Fatalf("All = %v, want one match", got)
	}
	if price := doc.(map[string]any)["items"].([]any)[0].(map[string]any)["price"]; price != json.Number("12") {
		t.Errorf("price in the message is now %#v, want json.Number 12", price)
	}
	if after := mustEncode(t, doc); after != before {
		t.Errorf("message changed: %s, was %s", after, before)
	}
}

// TestFilterPluralQueries: a query that can match several values may still be tested
// for existence or counted inside a filter, and the answer never depends on map order.
func TestFilterPluralQueries(t *testing.T) {
	doc := mustDecode(t, `{"items": [{"tags": {"a": [1], "b": [2]}, "sku": "s"}, {"tags": {}, "sku": "t"}, {"sku": "u"}]}`)
	for expr, want := range map[string]int{
		"$.items[?(@.tags.*)].sku":                     1,
		"$.items[?(count(@.tags.*) > 1)].sku":          1,
		"$.items[?(@.sku == 't' || @.tags.*)].sku":     2,
		"$.items[?(@.tags.* && @.sku == 's')].sku":     1,
		"$.items[?(@.tags.a[0] == 1 && @.sku == 's')]": 1,
	} {
		p, err := CompilePath(expr)
		if err != nil {
			t.Fatalf("CompilePath(%q): %v", expr, err)
		}
		for range 20 {
			if got := p.All(doc); len(got) != want {
				t.Fatalf("%s matched %v, want %d values", expr, got, want)
			}
		}
	}
}

func FuzzCompilePath(f *testing.F) {
	for _, s := range []string{
		"$", "$.orderId", "$.orderItems[*]", "$.customer.id", "$..sku", "$.a[0:2]", "$.a[-1]",
		"$['a','b']", "$.items[?(@.price > 10)].sku", "$.a[?(@.x == 'y' || @.z < 3)]", "$.a[",
		"$..*", "$[?(@ =~ /a.*/)]", "$.a[?(@..* == @.c)]", "$.a[?(@.c[*])]", "$.a[(@.length-1)]", "@.x", "",
	} {
		f.Add(s)
	}
	doc := mustDecode(f, `{"a": [1, "x", {"b": 2.5, "c": [true, null]}], "orderId": 1, "items": [{"price": 12, "sku": "s"}]}`)
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := CompilePath(expr)
		if err != nil {
			if !strings.Contains(err.Error(), "invalid JSONPath") {
				t.Fatalf("error %q does not say what is wrong", err)
			}
			return
		}
		if p.String() != expr {
			t.Fatalf("String() = %q, want %q", p.String(), expr)
		}
		all := p.All(doc)
		first, found := p.First(doc)
		if p.Definite() && len(all) > 1 {
			t.Fatalf("definite path %q matched %d values", expr, len(all))
		}
		if found != (len(all) > 0) {
			t.Fatalf("First found = %v but All has %d matches", found, len(all))
		}
		if found && !p.filter && p.Definite() {
			if want, _ := p.expr.FirstFound(doc); !cmp.Equal(first, want) {
				t.Fatalf("First = %v, ojg finds %v", first, want)
			}
		}
		// ojg's own results for a descent after a wildcard depend on map order, so
		// those paths are checked against TestDescentPaths' expectations instead.
		if p.steps != nil && !slices.ContainsFunc(p.steps, func(s step) bool { return s.descent }) {
			checkLikeOJG(t, p, doc)
		}
	})
}

func TestDescentPaths(t *testing.T) {
	doc := mustDecode(t, `{"a": [1, "x", {"b": 2.5, "c": [true, null]}], "orderId": 1,
		"items": [{"price": 12, "sku": "s"}, {"sku": "t", "parts": [{"sku": "u"}]}]}`)
	for expr, want := range map[string][]string{
		"$..sku":       {`"s"`, `"t"`, `"u"`},
		"$.*..sku":     {`"s"`, `"t"`, `"u"`},
		"$.items..sku": {`"s"`, `"t"`, `"u"`},
		"$..parts[*]":  {`{"sku":"u"}`},
		"$..b":         {`2.5`},
		"$.a..c[*]":    {`null`, `true`},
		"$..nope":      {},
	} {
		t.Run(expr, func(t *testing.T) {
			p, err := CompilePath(expr)
			if err != nil {
				t.Fatal(err)
			}
			if p.steps == nil {
				t.Fatalf("%s is not walked here", expr)
			}
			for range 20 { // map order varies between runs
				var got []string
				for _, v := range p.All(doc) {
					got = append(got, mustEncode(t, v))
				}
				slices.Sort(got)
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("All = %v, want %v", got, want)
				}
				if _, found := p.First(doc); found != (len(want) > 0) {
					t.Fatalf("First found = %v", found)
				}
			}
		})
	}
}

// checkLikeOJG checks that a path walked here matches what ojg's Get finds (in any
// order: both visit object members in map order).
func checkLikeOJG(t *testing.T, p *Path, doc any) {
	t.Helper()
	sorted := func(vs []any) []string {
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = mustEncode(t, v)
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(sorted(p.expr.Get(doc)), sorted(p.All(doc))); diff != "" {
		t.Errorf("%s: All differs from ojg (-ojg +All):\n%s", p, diff)
	}
}

func TestSimplePathsMatchOJG(t *testing.T) {
	doc := mustDecode(t, `{"a": [{"b": [1, 2]}, {"b": [3]}, {"c": 4}, 5, [6, {"b": 7}]],
		"m": {"x": {"b": 8}, "y": {"b": 9}, "z": 10}, "s": "str", "n": null}`)
	for _, expr := range []string{
		"$.*", "$.a[*]", "$.a[*].b", "$.a[*].b[*]", "$.a[*][*]", "$.a[*][1].b", "$.a[-1][*]",
		"$.m.*", "$.m.*.b", "$.m[*].b", "$.*.*", "$.*[*].b", "$.s[*]", "$.n[*]", "$.nope[*]",
		"$[*]", "$.a[*].c", "$.a[0].b[*]", "$.a[4][*].b",
	} {
		t.Run(expr, func(t *testing.T) {
			p, err := CompilePath(expr)
			if err != nil {
				t.Fatal(err)
			}
			if p.steps == nil {
				t.Fatalf("%s is not walked here", expr)
			}
			checkLikeOJG(t, p, doc)
			first, found := p.First(doc)
			all := p.All(doc)
			if found != (len(all) > 0) || found && !slices.ContainsFunc(all, func(v any) bool { return cmp.Equal(v, first) }) {
				t.Errorf("First = %v, %v; All = %v", first, found, all)
			}
		})
	}
}
