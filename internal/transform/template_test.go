package transform

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// seedMapping is the transform step of the seed's "order-sync" flow, as the
// configuration decoder hands it over.
func seedMapping() map[string]any {
	return map[string]any{
		"id": "$.orderId",
		"customer": map[string]any{
			"id":    "$.customerId",
			"email": "$.customerEmail",
		},
		"items": "$.orderItems[*]",
		"total": "$.orderTotal",
	}
}

func TestTemplateSeedMapping(t *testing.T) {
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Apply(mustDecode(t, string(orderJSON(t))))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"customer":{"email":"ada@example.com","id":"cus_42"},"id":12345678901234567890,` +
		`"items":[{"price":19.99,"productId":"p-1","quantity":2,"sku":"SKU-1"},` +
		`{"price":960.02,"productId":"p-2","quantity":1,"sku":"SKU-2"}],"total":1000.00}`
	if got := mustEncode(t, out); got != want {
		t.Errorf("Apply =\n%s\nwant\n%s", got, want)
	}
}

func TestTemplateApply(t *testing.T) {
	order := string(orderJSON(t))
	tests := []struct {
		name string
		tmpl any
		doc  string // default: testdata/order.json
		want string // JSON
	}{
		{name: "string literal", tmpl: map[string]any{"source": "shop", "empty": ""}, want: `{"source": "shop", "empty": ""}`},
		{name: "config numbers", tmpl: map[string]any{"i": int64(3), "n": 7, "f": 2.5, "big": int64(math.MaxInt64), "j": json.Number("1.10")},
			want: `{"i": 3, "n": 7, "f": 2.5, "big": 9223372036854775807, "j": 1.10}`},
		{name: "bool and null literals", tmpl: map[string]any{"t": true, "f": false, "n": nil}, want: `{"t": true, "f": false, "n": null}`},
		{name: "escaped dollar", tmpl: map[string]any{"price": `\$9.99`, "dollar": `\$`}, want: `{"price": "$9.99", "dollar": "$"}`},
		{name: "escaped equals", tmpl: map[string]any{"eq": `\=total`}, want: `{"eq": "=total"}`},
		{name: "other backslashes stay", tmpl: map[string]any{"a": `\n`, "b": `\\$x`, "c": `a\$`}, want: `{"a": "\\n", "b": "\\\\$x", "c": "a\\$"}`},
		{name: "whole message", tmpl: map[string]any{"original": "$"}, doc: `{"a": 1}`, want: `{"original": {"a": 1}}`},
		{name: "missing definite path is null", tmpl: map[string]any{"x": "$.nope", "y": "$.customerId.deeper", "z": "$.orderItems[9]"},
			want: `{"x": null, "y": null, "z": null}`},
		{name: "indefinite path with no match is an empty list", tmpl: map[string]any{"x": "$.nope[*]", "y": "$..nothing"},
			want: `{"x": [], "y": []}`},
		{name: "indefinite path with one match is a list", tmpl: map[string]any{"skus": "$.orderItems[?(@.price > 100)].sku"},
			want: `{"skus": ["SKU-2"]}`},
		{name: "definite path to a list gives the list", tmpl: map[string]any{"n": "$.orderItems[0].sku", "all": "$.orderItems"},
			want: `{"n": "SKU-1", "all": [{"price":19.99,"productId":"p-1","quantity":2,"sku":"SKU-1"},{"price":960.02,"productId":"p-2","quantity":1,"sku":"SKU-2"}]}`},
		{name: "nested lists and objects", tmpl: []any{
			[]any{"$.status", int64(1), []any{}},
			map[string]any{"a": []any{"$.customerId", map[string]any{"b": "$.currency"}}},
			map[string]any{},
		}, want: `[["paid", 1, []], {"a": ["cus_42", {"b": "EUR"}]}, {}]`},
		{name: "top-level path", tmpl: "$.orderItems[*].sku", want: `["SKU-1", "SKU-2"]`},
		{name: "top-level literal", tmpl: int64(5), want: `5`},
		{name: "arithmetic", tmpl: map[string]any{"double": "=orderTotal * 2", "count": "=len(orderItems)", "units": "=sum(map(orderItems, .quantity))"},
			want: `{"double": 2000, "count": 2, "units": 3}`},
		{name: "decimal arithmetic", tmpl: map[string]any{"net": "=orderItems[1].price - 0.02", "half": "=orderItems[0].quantity / 4"},
			want: `{"net": 960, "half": 0.5}`},
		{name: "strings", tmpl: map[string]any{"email": "=upper(customerEmail)", "label": `=customerId + "/" + status`, "tier": `=customerTier == "gold" ? "vip" : "standard"`},
			want: `{"email": "ADA@EXAMPLE.COM", "label": "cus_42/paid", "tier": "vip"}`},
		{name: "expression building lists and maps", tmpl: map[string]any{
			"skus":   "=map(orderItems, .sku)",
			"pair":   `={"sku": orderItems[0].sku, "qty": orderItems[0].quantity}`,
			"big":    "=filter(orderItems, .price > 100)",
			"words":  `=split("a,b", ",")`,
			"absent": "=notes",
		}, want: `{"skus": ["SKU-1", "SKU-2"], "pair": {"sku": "SKU-1", "qty": 2}, "big": [{"price":960.02,"productId":"p-2","quantity":1,"sku":"SKU-2"}], "words": ["a", "b"], "absent": null}`},
		{name: "expression over a message that is not an object", tmpl: map[string]any{"x": "=$ * 3", "all": "$"}, doc: `7`, want: `{"x": 21, "all": 7}`},
		{name: "dollar is the whole message in expressions too", tmpl: map[string]any{"n": "=len($)"}, doc: `{"a": 1, "b": 2}`, want: `{"n": 2}`},
		{name: "env", tmpl: map[string]any{"n": `=$env.orderTotal > 999`, "k": `=len(keys($env))`}, doc: `{"orderTotal": 1000, "x": 1}`, want: `{"n": true, "k": 3}`},
		{name: "expressions and paths together", tmpl: map[string]any{"total": "$.orderTotal", "vat": "=orderTotal * 0.25", "id": "$.orderId"},
			want: `{"total": 1000.00, "vat": 250, "id": 12345678901234567890}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := CompileTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			doc := tt.doc
			if doc == "" {
				doc = order
			}
			got, err := tmpl.Apply(mustDecode(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(mustDecode(t, tt.want), got); diff != "" {
				t.Errorf("Apply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileTemplateErrors(t *testing.T) {
	type unsupported struct{}
	tests := []struct {
		name string
		tmpl any
		want string
	}{
		{name: "bad path", tmpl: map[string]any{"items": "$.orderItems["}, want: `items: invalid JSONPath "$.orderItems[" at character 14: not terminated`},
		{name: "nested key", tmpl: map[string]any{"customer": map[string]any{"email": "$.a b"}}, want: `customer.email: invalid JSONPath "$.a b"`},
		{name: "list index", tmpl: map[string]any{"lines": []any{"$.a", "$["}}, want: `lines[1]: invalid JSONPath "$["`},
		{name: "quoted key", tmpl: map[string]any{"first name": "$x"}, want: `"first name": invalid JSONPath "$x"`},
		{name: "top-level", tmpl: "$.a[", want: `invalid JSONPath "$.a["`},
		{name: "bad expression", tmpl: map[string]any{"total": "=orderTotal *"}, want: `total: invalid expression "orderTotal *": unexpected token EOF`},
		{name: "empty expression", tmpl: map[string]any{"x": "="}, want: `x: invalid expression "": empty expression`},
		{name: "unsupported value", tmpl: map[string]any{"x": []any{unsupported{}}}, want: `x[0]: unsupported value of type transform.unsupported`},
		{name: "NaN literal", tmpl: map[string]any{"x": math.NaN()}, want: `x: number NaN has no JSON form`},
		{name: "first error in key order", tmpl: map[string]any{"b": "$[", "a": "$["}, want: `a: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileTemplate(tt.tmpl)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("CompileTemplate error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestTemplateApplyErrors(t *testing.T) {
	tests := []struct {
		name string
		tmpl any
		doc  string
		want string
	}{
		{name: "missing field", tmpl: map[string]any{"x": map[string]any{"net": "=total - discount"}}, doc: `{"total": 10}`,
			want: `x.net: expression "total - discount": invalid operation: int - <nil> (1:7); the message has no field "discount"`},
		{name: "no JSON form", tmpl: map[string]any{"ratio": "=total / 0"}, doc: `{"total": 10}`,
			want: `ratio: expression "total / 0": number +Inf has no JSON form`},
		{name: "top-level", tmpl: "=a.b", doc: `{"a": 1}`, want: `expression "a.b": `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := CompileTemplate(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.Apply(mustDecode(t, tt.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Apply = %v, %v; want error with prefix %q", out, err, tt.want)
			}
		})
	}
}

// TestTemplateLeavesMessageUnchanged checks that converting numbers for expressions
// copies instead of writing into the message, and that outputs do not share containers
// built by the template.
func TestTemplateLeavesMessageUnchanged(t *testing.T) {
	tmpl, err := CompileTemplate(map[string]any{
		"skus":  "=map(orderItems, .sku)",
		"total": "=orderTotal + sum(map(orderItems, .price))",
		"items": "$.orderItems[*]",
		"meta":  map[string]any{"source": "shop"},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc := mustDecode(t, string(orderJSON(t)))
	before := mustEncode(t, doc)
	first, err := tmpl.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	if after := mustEncode(t, doc); after != before {
		t.Fatalf("message changed:\n%s\nwas\n%s", after, before)
	}
	price := doc.(map[string]any)["orderItems"].([]any)[0].(map[string]any)["price"]
	if price != json.Number("19.99") {
		t.Errorf("price in the message is now %#v, want json.Number", price)
	}
	first.(map[string]any)["meta"].(map[string]any)["source"] = "changed"
	second, err := tmpl.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.(map[string]any)["meta"].(map[string]any)["source"]; got != "shop" {
		t.Errorf("second output's literal = %v, want shop: outputs share containers", got)
	}
}

func TestTemplateConcurrentApply(t *testing.T) {
	tmpl, err := CompileTemplate(map[string]any{"id": "$.orderId", "double": "=orderTotal * 2", "skus": "$.orderItems[?(@.price > 1)].sku"})
	if err != nil {
		t.Fatal(err)
	}
	doc := mustDecode(t, string(orderJSON(t)))
	want := `{"double":2000,"id":12345678901234567890,"skus":["SKU-1","SKU-2"]}`
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				out, err := tmpl.Apply(doc)
				if err != nil {
					t.Error(err)
					return
				}
				if got := mustEncode(t, out); got != want {
					t.Errorf("Apply = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzTemplateApply(f *testing.F) {
	for _, s := range []string{`{"a": 1}`, `[1, 2.5, "x"]`, `"s"`, `null`, string(orderJSON(f))} {
		f.Add(s)
	}
	tmpl, err := CompileTemplate(map[string]any{
		"id": "$.orderId", "items": "$.orderItems[*]", "all": "$..*", "cheap": "$..[?(@.price < 100)]",
		"n": "=orderTotal ?? 0", "s": "=string($)",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		doc, err := Decode([]byte(msg))
		if err != nil {
			return
		}
		out, err := tmpl.Apply(doc)
		if err != nil {
			return // an expression may fail on odd messages; it must not panic
		}
		if _, err := Encode(out); err != nil {
			t.Fatalf("output of %s cannot be encoded: %v", msg, err)
		}
	})
}

func BenchmarkTemplateApply(b *testing.B) {
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		b.Fatal(err)
	}
	doc := mustDecode(b, string(orderJSON(b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplateApplyExpression(b *testing.B) {
	tmpl, err := CompileTemplate(map[string]any{"id": "$.orderId", "gross": "=orderTotal * 1.2", "units": "=sum(map(orderItems, .quantity))"})
	if err != nil {
		b.Fatal(err)
	}
	doc := mustDecode(b, string(orderJSON(b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTemplateApplyPeer is the mapping of the peer benchmark (bench/peer).
func BenchmarkTemplateApplyPeer(b *testing.B) {
	tmpl, err := CompileTemplate(map[string]any{"id": "$.orderId", "email": "$.customerEmail", "item_count": "=len(orderItems)", "total": "$.orderTotal"})
	if err != nil {
		b.Fatal(err)
	}
	doc := mustDecode(b, string(orderJSON(b)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.Apply(doc); err != nil {
			b.Fatal(err)
		}
	}
}
