package transform

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
)

// libraryVerdict validates with jsonschema alone, as Validate did before the fast path.
func libraryVerdict(s *Schema, doc any) string {
	return verdict(s.validateLibrary(doc))
}

func verdict(err error) string {
	if err == nil {
		return "valid"
	}
	return err.Error()
}

// fastSchemas are schemas the fast path takes, with documents it must accept itself
// (so the tests below do not pass by the fast path declining everything).
var fastSchemas = []struct {
	name   string
	schema string
	valid  []string
}{
	{name: "peer", schema: `{"type": "object", "required": ["id", "email"], "properties": {"id": {"type": "string", "minLength": 1},
		"email": {"type": "string"}, "item_count": {"type": "integer"}, "total": {"type": "number"}}}`,
		valid: []string{`{"id": "o-1", "email": "a@b", "item_count": 3, "total": 1234.56}`, `{"id": "é", "email": ""}`}},
	{name: "bounds", schema: `{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {
		"n": {"type": "number", "minimum": -5, "maximum": 1000}, "x": {"exclusiveMinimum": 0, "exclusiveMaximum": 10},
		"i": {"type": ["integer", "null"], "minimum": 1}}, "additionalProperties": false}`,
		valid: []string{`{"n": 1000, "x": 9.999, "i": 1}`, `{"n": -5, "x": 0.0001, "i": null}`, `{"n": -4.5e0, "i": 1.0e3}`, `{}`}},
	{name: "arrays and refs", schema: `{"type": "array", "minItems": 1, "maxItems": 3, "items": {"$ref": "#/$defs/item"},
		"$defs": {"item": {"type": "object", "required": ["sku"], "minProperties": 1, "maxProperties": 3,
		"properties": {"sku": {"type": "string", "pattern": "^s-[0-9]+$", "maxLength": 8}, "tags": {"$ref": "#/$defs/tags"}},
		"additionalProperties": {"type": ["string", "boolean"]}}, "tags": {"type": "array", "items": {"enum": ["a", "b", 1]}}}}`,
		valid: []string{`[{"sku": "s-1"}]`, `[{"sku": "s-12", "tags": ["a", "b"], "x": true}, {"sku": "s-2", "y": "z"}]`}},
	{name: "recursive", schema: `{"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "required": ["v"],
		"properties": {"v": {"const": "x"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}}`,
		valid: []string{`{"v": "x"}`, `{"v": "x", "kids": [{"v": "x", "kids": [{"v": "x"}]}]}`}},
	{name: "format", schema: `{"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "mail": {"format": "email"}}}`,
		valid: []string{`{"at": "2026-11-23T15:04:05Z", "mail": "a@example.com"}`, `{"mail": 5}`}},
	{name: "booleans", schema: `{"properties": {"yes": true, "no": false}, "additionalProperties": true}`,
		valid: []string{`{"yes": [1, {"a": null}], "other": 1}`}},
	{name: "draft 7", schema: `{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"s": {"type": "string"}},
		"type": "object", "properties": {"a": {"$ref": "#/definitions/s", "type": "integer"}, "l": {"items": {"type": "integer"}}}}`,
		valid: []string{`{"a": "x", "l": [1, 2.0, -3e2]}`}},
	{name: "draft 4", schema: `{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
		"properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 10}}}`,
		valid: []string{`{"n": 10}`, `{"n": 1}`}},
}

// fastProbes are documents every fast-path schema is tried with: the fast path must not
// accept one the library rejects.
var fastProbes = []string{
	`null`, `true`, `0`, `-0`, `1`, `1.5`, `"s"`, `""`, `[]`, `{}`, `[{}]`, `[{"sku": 1}]`, `[{"sku": "s-1", "x": 1}]`,
	`[{"sku": "s-123456789"}]`, `[{"sku": "x-1"}]`, `[{"sku": "s-1", "tags": ["c"]}]`, `[{"sku": "s-1", "tags": [1]}]`,
	`[{"sku": "s-1", "a": "1", "b": "2", "c": "3"}]`, `[{"sku": "s-1"}, {"sku": "s-2"}, {"sku": "s-3"}, {"sku": "s-4"}]`,
	`{"id": "", "email": "a"}`, `{"id": "o", "email": null}`, `{"id": "o"}`, `{"id": 1, "email": "a"}`,
	`{"id": "o", "email": "a", "item_count": 1.5}`, `{"id": "o", "email": "a", "item_count": 1e2}`,
	`{"id": "o", "email": "a", "item_count": 12345678901234567890123}`, `{"id": "o", "email": "a", "total": "1"}`,
	`{"n": 1000.0000000000001}`, `{"n": -5.1}`, `{"n": -5e0}`, `{"n": 1e3}`, `{"n": 1e4}`, `{"n": -0.0}`,
	`{"n": 99999999999999999999}`, `{"n": -99999999999999999999}`, `{"x": 0}`, `{"x": 10}`, `{"x": 1e-400}`,
	`{"x": 9.99999999999999999999}`, `{"i": 0}`, `{"i": 1.5}`, `{"i": "1"}`, `{"extra": 1}`,
	`{"v": "x", "kids": [{"v": "y"}]}`, `{"v": "x", "kids": [{}]}`, `{"v": "y"}`,
	`{"at": "yesterday"}`, `{"at": "2026-13-23T15:04:05Z"}`, `{"mail": "nope"}`, `{"no": 1}`, `{"yes": 1, "no": null}`,
	`{"a": 1}`, `{"a": "x", "l": [1.5]}`, `{"l": ["1"]}`, `{"n": 0}`, `{"n": 11}`, `{"n": 10.5}`, `{"n": 0.5}`,
}

// TestSchemaFastPathAgrees checks that Validate, fast path included, gives the same
// verdict and the same problems as the library alone, and that the fast path does take
// the schemas and documents it is meant for.
func TestSchemaFastPathAgrees(t *testing.T) {
	for _, fs := range fastSchemas {
		t.Run(fs.name, func(t *testing.T) {
			s, err := CompileSchema(mustDecode(t, fs.schema))
			if err != nil {
				t.Fatal(err)
			}
			if s.fast == nil {
				t.Fatal("the fast path does not take this schema")
			}
			for _, doc := range fs.valid {
				if !s.fast.valid(mustDecode(t, doc), 0) {
					t.Errorf("the fast path leaves %s to the library", doc)
				}
			}
			for _, doc := range append(fs.valid, fastProbes...) {
				d := mustDecode(t, doc)
				if got, want := verdict(s.Validate(d)), libraryVerdict(s, d); got != want {
					t.Errorf("Validate(%s) = %s; the library says %s", doc, got, want)
				}
			}
		})
	}
}

func TestSchemaFastPathDeclines(t *testing.T) {
	for _, schema := range []string{
		`{"anyOf": [{"type": "string"}]}`, `{"not": {}}`, `{"patternProperties": {"^a": {}}}`, `{"uniqueItems": true}`,
		`{"minimum": 0.5}`, `{"multipleOf": 2}`, `{"const": 1}`, `{"prefixItems": [{}]}`, `{"unevaluatedProperties": false}`,
		`{"dependentRequired": {"a": ["b"]}}`, `{"contains": {}}`, `{"maximum": 1e30}`,
		`{"properties": {"a": {"if": {}, "then": {}}}}`,
	} {
		s, err := CompileSchema(mustDecode(t, schema))
		if err != nil {
			t.Fatal(err)
		}
		if s.fast != nil {
			t.Errorf("the fast path takes %s", schema)
		}
	}
}

// TestSchemaFastPathOrderSchema: the order schema of the tests, with its file $ref, is
// taken by the fast path.
func TestSchemaFastPathOrderSchema(t *testing.T) {
	s, err := CompileSchemaFile(filepath.Join("testdata", "schemas", "order.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := tmpl.Apply(mustDecode(t, string(orderJSON(t))))
	if err != nil {
		t.Fatal(err)
	}
	if s.fast == nil || !s.fast.valid(doc, 0) {
		t.Fatal("the fast path does not accept the sample order")
	}
	inline, err := CompileSchema(orderSchema())
	if err != nil || inline.fast == nil {
		t.Fatalf("the fast path does not take orderSchema(): %v", err)
	}
}

// FuzzSchemaFastPath validates fuzzed documents against every fast-path schema: the
// verdict and problems must be the library's.
func FuzzSchemaFastPath(f *testing.F) {
	var schemas []*Schema
	for _, fs := range fastSchemas {
		s, err := CompileSchema(mustDecode(f, fs.schema))
		if err != nil {
			f.Fatal(err)
		}
		schemas = append(schemas, s)
		for _, doc := range fs.valid {
			f.Add(doc)
		}
	}
	for _, doc := range fastProbes {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := Decode([]byte(doc))
		if err != nil {
			return
		}
		for i, s := range schemas {
			if got, want := verdict(s.Validate(d)), libraryVerdict(s, d); got != want {
				t.Fatalf("schema %s: Validate(%s) = %s; the library says %s", fastSchemas[i].name, doc, got, want)
			}
		}
	})
}

// FuzzSchemaNumber compares the fast path's reading of number literals with big.Rat's,
// which the library uses: whether the number is whole, and how it compares with limits.
func FuzzSchemaNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1", "-1", "1.5", "1000.00", "1e3", "1E-3", "-12.5e1", "0.000e5",
		"123456789012345678", "1234567890123456789", "9.99999999999999999999", "1e-400", "-0.0e0", "00", "1.", ".5", "1e", "+1"} {
		f.Add(s, int64(0))
		f.Add(s, int64(1000))
		f.Add(s, int64(-13))
	}
	f.Fuzz(func(t *testing.T, lit string, limit int64) {
		limit %= 1e18
		p, ok := parseSchemaNumber(lit)
		_, decErr := Decode([]byte(lit))
		isNumber := decErr == nil && lit != "" && strings.TrimLeft(lit, "-0123456789.eE+") == "" && !strings.ContainsAny(lit[:1], " ")
		if ok && !isNumber {
			t.Fatalf("parseSchemaNumber(%q) accepts what is not a JSON number", lit)
		}
		if !ok {
			return
		}
		r, rok := new(big.Rat).SetString(lit)
		if !rok {
			t.Fatalf("big.Rat cannot read %q, which parseSchemaNumber accepts", lit)
		}
		if p.integer() != r.IsInt() {
			t.Fatalf("%q: integer %v, big.Rat says %v", lit, p.integer(), r.IsInt())
		}
		if got, want := p.cmp(limit), r.Cmp(new(big.Rat).SetInt64(limit)); got != want {
			t.Fatalf("%q compared with %d: %d, big.Rat says %d", lit, limit, got, want)
		}
	})
}

func BenchmarkSchemaValidatePeer(b *testing.B) {
	s, err := CompileSchema(mustDecode(b, fastSchemas[0].schema))
	if err != nil {
		b.Fatal(err)
	}
	doc := mustDecode(b, fastSchemas[0].valid[0])
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(doc); err != nil {
			b.Fatal(fmt.Sprint(err))
		}
	}
}
