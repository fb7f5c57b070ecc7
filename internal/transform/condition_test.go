package transform

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func TestCondition(t *testing.T) {
	order := `{"total": 1000.00, "count": 3, "customer": {"tier": "gold", "id": 12345678901234567890},
		"status": "paid", "items": [{"sku": "a", "price": 19.99}, {"sku": "b", "price": 960.02}], "note": null,
		"flag": true, "code": "1000"}`
	tests := []struct {
		name    string
		src     string
		doc     string // default: order
		want    bool
		wantErr string
	}{
		{name: ">= true", src: "total >= 1000", want: true},
		{name: "> false", src: "total > 1000", want: false},
		{name: "< false", src: "total < 1000", want: false},
		{name: "decimal equals integer", src: "total == 1000", want: true},
		// "count" names a builtin function; fields with such names are read through $.
		{name: "integer", src: "$.count == 3", want: true},
		{name: "integer and float literal", src: "$env.count < 3.5", want: true},
		{name: "string ==", src: `customer.tier == "gold"`, want: true},
		{name: "string !=", src: `customer.tier != "gold"`, want: false},
		{name: "in list", src: `status in ["paid", "shipped"]`, want: true},
		{name: "not in list", src: `status not in ["paid", "shipped"]`, want: false},
		{name: "and", src: `total >= 1000 and customer.tier == "gold"`, want: true},
		{name: "&& short", src: `total > 5000 && customer.tier == "gold"`, want: false},
		{name: "or", src: `total > 5000 or status == "paid"`, want: true},
		{name: "not", src: `not flag`, want: false},
		{name: "len", src: "len(items) > 0", want: true},
		{name: "len of empty", src: "len(items) > 0", doc: `{"items": []}`, want: false},
		{name: "any over items", src: "any(items, .price > 500)", want: true},
		{name: "all over items", src: "all(items, .price > 500)", want: false},
		{name: "index", src: `items[1].sku == "b"`, want: true},
		{name: "decimal in list", src: "items[0].price == 19.99", want: true},
		{name: "big integer beyond int64", src: "customer.id > 1e19", want: true},
		{name: "big integer is approximately equal", src: "customer.id < 1.3e19", want: true},
		{name: "int64 max is exact", src: "n == 9223372036854775807", doc: `{"n": 9223372036854775807}`, want: true},
		{name: "negative", src: "n < -1", doc: `{"n": -2.5}`, want: true},
		{name: "string number is a string", src: `code == "1000"`, want: true},
		{name: "boolean field", src: "flag", want: true},
		{name: "missing field is nil", src: "discount == nil", want: true},
		{name: "null field is nil", src: "note == nil", want: true},
		{name: "optional chaining over a missing object", src: `shipping?.country == "DE"`, want: false},
		{name: "missing field with ?? default", src: "(discount ?? 0) == 0", want: true},
		{name: "$env", src: `$env["total"] >= 1000`, want: true},
		{name: "let", src: "let t = total * 2; t == 2000", want: true},
		{name: "whole message", src: "$.status == 'paid'", want: true},
		{name: "not an object: number", src: "$ > 5", doc: `7`, want: true},
		{name: "not an object: string", src: `$ startsWith "ord"`, doc: `"order-1"`, want: true},
		{name: "not an object: list", src: "len($) == 2", doc: `[1, 2]`, want: true},
		{name: "regex", src: `customer.tier matches "^go"`, want: true},

		{name: "missing field compared", src: "total >= 1000", doc: `{"count": 1}`,
			wantErr: `condition "total >= 1000": invalid operation: <nil> >= int (1:7); the message has no field "total"`},
		{name: "missing fields are all named", src: "a + b > 1", doc: `{}`,
			wantErr: `the message has no field "a", "b"`},
		{name: "let variables are not fields", src: "let t = total; t > 1", doc: `{}`,
			wantErr: `(1:18); the message has no field "total"`},
		{name: "member of missing object", src: `customer.tier == "gold"`, doc: `{}`,
			wantErr: `cannot fetch tier from <nil> (1:10); the message has no field "customer"`},
		{name: "wrong type", src: "total >= 1000", doc: `{"total": "lots"}`,
			wantErr: `condition "total >= 1000": invalid operation: string >= int (1:7)`},
		{name: "not a boolean at run time", src: "total", wantErr: `condition "total": `},
		{name: "field of a message that is not an object", src: "total > 1", doc: `5`,
			wantErr: `the message has no field "total"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CompileCondition(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if c.String() != tt.src {
				t.Errorf("String() = %q, want %q", c.String(), tt.src)
			}
			doc := tt.doc
			if doc == "" {
				doc = order
			}
			got, err := c.Eval(mustDecode(t, doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Eval = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q spans several lines", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Eval = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompileConditionErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"", `invalid condition "": empty expression`},
		{"   ", `invalid condition "   ": empty expression`},
		{"1 + 2", `invalid condition "1 + 2": expected bool, but got int`},
		{`"gold"`, `invalid condition "\"gold\"": expected bool, but got string`},
		{"len(items)", `invalid condition "len(items)": expected bool, but got int`},
		{"total >=", `invalid condition "total >=": unexpected token EOF (1:8)`},
		{"total >= 1000)", `invalid condition "total >= 1000)": unexpected token Bracket(")") (1:14)`},
		{"count == 3", `invalid condition "count == 3": invalid operation: == (mismatched types func(`},
		{"id == 12345678901234567890", `invalid condition "id == 12345678901234567890": invalid integer literal`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := CompileCondition(tt.src)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("CompileCondition error = %v, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

func TestConditionLeavesMessageUnchanged(t *testing.T) {
	c, err := CompileCondition("any(items, .price > 10) && total > 1")
	if err != nil {
		t.Fatal(err)
	}
	doc := mustDecode(t, `{"items": [{"price": 12}], "total": 5}`)
	before := mustEncode(t, doc)
	if ok, err := c.Eval(doc); err != nil || !ok {
		t.Fatalf("Eval = %v, %v; want true", ok, err)
	}
	if after := mustEncode(t, doc); after != before {
		t.Errorf("message changed: %s, was %s", after, before)
	}
	obj := doc.(map[string]any)
	if _, ok := obj["total"].(json.Number); !ok {
		t.Errorf("total is now %T, want json.Number", obj["total"])
	}
	if price := obj["items"].([]any)[0].(map[string]any)["price"]; price != json.Number("12") {
		t.Errorf("items[0].price is now %#v, want json.Number 12", price)
	}
}

func TestConditionConcurrentEval(t *testing.T) {
	c, err := CompileCondition("total >= 1000")
	if err != nil {
		t.Fatal(err)
	}
	high, low, none := mustDecode(t, `{"total": 1500}`), mustDecode(t, `{"total": 999.99}`), mustDecode(t, `{}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				if ok, err := c.Eval(high); !ok || err != nil {
					t.Errorf("Eval(high) = %v, %v", ok, err)
					return
				}
				if ok, err := c.Eval(low); ok || err != nil {
					t.Errorf("Eval(low) = %v, %v", ok, err)
					return
				}
				if _, err := c.Eval(none); err == nil {
					t.Error("Eval(none) succeeded, want an error")
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkConditionEval(b *testing.B) {
	c, err := CompileCondition("total >= 1000")
	if err != nil {
		b.Fatal(err)
	}
	// the output of the seed's mapping, which the route step sees
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		b.Fatal(err)
	}
	doc, err := tmpl.Apply(mustDecode(b, string(orderJSON(b))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := c.Eval(doc); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkConditionEvalItems(b *testing.B) {
	c, err := CompileCondition(`len(items) > 0 && any(items, .price > 500) && customer.id != ""`)
	if err != nil {
		b.Fatal(err)
	}
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		b.Fatal(err)
	}
	doc, err := tmpl.Apply(mustDecode(b, string(orderJSON(b))))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := c.Eval(doc); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
