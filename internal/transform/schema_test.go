package transform

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// orderSchema is an inline schema as the configuration decoder produces it.
func orderSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []any{"id", "total"},
		"properties": map[string]any{
			"id":    map[string]any{"type": "integer", "minimum": int64(1)},
			"total": map[string]any{"type": "number", "minimum": int64(0), "maximum": 1e6},
			"email": map[string]any{"type": "string", "pattern": "^[^@]+@[^@]+$"},
			"items": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/item"}},
			"a/b~c": map[string]any{"type": "boolean"},
			"at":    map[string]any{"type": "string", "format": "date-time"},
		},
		"additionalProperties": false,
		"$defs": map[string]any{
			"item": map[string]any{"type": "object", "required": []any{"sku"}, "properties": map[string]any{"qty": map[string]any{"type": "integer", "minimum": 1}}},
		},
	}
}

func TestSchemaValidate(t *testing.T) {
	s, err := CompileSchema(orderSchema())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		doc  string
		want []Problem // nil: valid
	}{
		{name: "valid", doc: `{"id": 1, "total": 19.99}`},
		{name: "valid with everything", doc: `{"id": 12345678901234567890, "total": 0, "email": "a@b", "items": [{"sku": "x", "qty": 2}], "a/b~c": true}`},
		{name: "decimal with trailing zeros is a number", doc: `{"id": 1, "total": 1000.00}`},
		{name: "whole decimal is an integer", doc: `{"id": 1.0, "total": 1}`},
		{name: "below minimum", doc: `{"id": 1, "total": -1}`, want: []Problem{{"/total", "minimum: got -1, want 0"}}},
		{name: "exact decimal bound", doc: `{"id": 1, "total": 1000000.0000000001}`, want: []Problem{{"/total", "maximum: got 1.0000000000000001×10⁰⁶, want 1×10⁰⁶"}}},
		{name: "missing", doc: `{"total": 1}`, want: []Problem{{"/id", "missing"}}},
		{name: "several problems, sorted by path", doc: `{"total": "x", "email": "nope", "items": [{"qty": 0}], "extra": 1}`, want: []Problem{
			{"", "additional properties 'extra' not allowed"},
			{"/email", "'nope' does not match pattern '^[^@]+@[^@]+$'"},
			{"/id", "missing"},
			{"/items/0/qty", "minimum: got 0, want 1"},
			{"/items/0/sku", "missing"},
			{"/total", "got string, want number"},
		}},
		{name: "format is asserted", doc: `{"id": 1, "total": 1, "at": "yesterday"}`, want: []Problem{{"/at", "'yesterday' is not valid date-time: less than 20 characters long"}}},
		{name: "valid format", doc: `{"id": 1, "total": 1, "at": "2026-11-23T15:04:05Z"}`},
		{name: "pointer escaping", doc: `{"id": 1, "total": 1, "a/b~c": "yes"}`, want: []Problem{{"/a~1b~0c", "got string, want boolean"}}},
		{name: "not an object", doc: `[1]`, want: []Problem{{"", "got array, want object"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Validate(mustDecode(t, tt.doc))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, ve.Problems); diff != "" {
				t.Errorf("Problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidationErrorMessage(t *testing.T) {
	err := (&ValidationError{Problems: []Problem{{"/total", "must be >= 0"}, {"/id", "missing"}, {"", "got array, want object"}}}).Error()
	if want := "/total: must be >= 0; /id: missing; (document): got array, want object"; err != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestSchemaDraftFromDollarSchema(t *testing.T) {
	// In draft-07 an "items" array describes a tuple; draft 2020-12 (the default)
	// uses "prefixItems" for that and rejects an array under "items".
	tuple := map[string]any{"items": []any{map[string]any{"type": "string"}}}
	if _, err := CompileSchema(tuple); err == nil || !strings.Contains(err.Error(), "/items") {
		t.Fatalf("CompileSchema(2020-12 with items array) error = %v, want a meta-schema error at /items", err)
	}
	tuple["$schema"] = "http://json-schema.org/draft-07/schema#"
	s, err := CompileSchema(tuple)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(mustDecode(t, `["a", 1]`)); err != nil {
		t.Errorf("draft-07 tuple: %v", err)
	}
	if err := s.Validate(mustDecode(t, `[1]`)); err == nil {
		t.Error("draft-07 tuple accepted a number in a string position")
	}
}

func TestCompileSchemaErrors(t *testing.T) {
	type unsupported struct{}
	tests := []struct {
		name   string
		schema any
		want   []string
	}{
		{name: "unknown type", schema: map[string]any{"properties": map[string]any{"total": map[string]any{"type": "decimal"}}},
			want: []string{"invalid schema: does not match its meta-schema:", "/properties/total/type"}},
		{name: "wrong keyword value", schema: map[string]any{"minimum": "zero"},
			want: []string{"invalid schema: does not match its meta-schema: /minimum: got string, want number"}},
		{name: "bad pattern", schema: map[string]any{"pattern": "("},
			want: []string{"invalid schema:", "/pattern"}},
		{name: "remote reference refused", schema: map[string]any{"$ref": "https://schemas.example.com/order.json"},
			want: []string{"invalid schema: remote reference https://schemas.example.com/order.json refused: schemas are never fetched over the network"}},
		{name: "remote reference by $id refused", schema: map[string]any{"$id": "http://example.com/root.json", "properties": map[string]any{"a": map[string]any{"$ref": "a.json"}}},
			want: []string{"remote reference http://example.com/a.json refused"}},
		{name: "file reference from an inline schema refused", schema: map[string]any{"$ref": "item.json"},
			want: []string{"invalid schema: reference item.json refused: an inline schema can refer only to itself"}},
		{name: "missing definition", schema: map[string]any{"$ref": "#/$defs/nope"},
			want: []string{"invalid schema:", "$defs/nope", "not found"}},
		{name: "unsupported value", schema: map[string]any{"minimum": unsupported{}},
			want: []string{"invalid schema: minimum: unsupported value of type transform.unsupported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileSchema(tt.schema)
			if err == nil {
				t.Fatal("CompileSchema succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "mem://") {
				t.Errorf("error %q shows the internal URL of inline schemas", err)
			}
		})
	}
}

func TestCompileSchemaFile(t *testing.T) {
	s, err := CompileSchemaFile(filepath.Join("testdata", "schemas", "order.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Apply(mustDecode(t, string(orderJSON(t))))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(out); err != nil {
		t.Errorf("the seed mapping's output does not validate: %v", err)
	}
	// item.json, referred to relatively, is applied
	err = s.Validate(mustDecode(t, `{"id": 1, "customer": {"id": "c", "email": "a@b"}, "items": [{"sku": "x", "quantity": 0, "price": 0}], "total": 1}`))
	want := "/items/0/price: exclusiveMinimum: got 0, want 0; /items/0/quantity: minimum: got 0, want 1"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}

func TestCompileSchemaFileErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{file: "absent.json", want: []string{"schema file testdata/schemas/absent.json:", "no such file"}},
		{file: "not-json.json", want: []string{"schema file testdata/schemas/not-json.json: invalid JSON"}},
		{file: "bad-keyword.json", want: []string{"schema file testdata/schemas/bad-keyword.json: invalid schema: does not match its meta-schema:", "/properties/total/type"}},
		{file: "remote-ref.json", want: []string{"schema file testdata/schemas/remote-ref.json: invalid schema: remote reference https://schemas.example.com/address.json refused"}},
		{file: "missing-ref.json", want: []string{"schema file testdata/schemas/missing-ref.json: invalid schema: reference ", "address.json", "no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := CompileSchemaFile(filepath.Join("testdata", "schemas", tt.file))
			if err == nil {
				t.Fatal("CompileSchemaFile succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestPipeline runs a message through the seed's flow: decode, transform, validate,
// route.
func TestPipeline(t *testing.T) {
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		t.Fatal(err)
	}
	schema, err := CompileSchemaFile(filepath.Join("testdata", "schemas", "order.json"))
	if err != nil {
		t.Fatal(err)
	}
	high, err := CompileCondition("total >= 1000")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		msg      string
		wantHigh bool
		wantErr  string
	}{
		{name: "high value", msg: string(orderJSON(t)), wantHigh: true},
		{name: "regular", msg: `{"orderId": 7, "customerId": "c", "customerEmail": "a@b", "orderItems": [{"sku": "s", "quantity": 1, "price": 9.5}], "orderTotal": 9.5}`},
		{name: "invalid", msg: `{"orderId": 7, "customerId": "c", "orderItems": [], "orderTotal": -1}`,
			wantErr: "/customer/email: got null, want string; /items: minItems: got 0, want 1; /total: minimum: got -1, want 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Decode([]byte(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			out, err := tmpl.Apply(doc)
			if err != nil {
				t.Fatal(err)
			}
			err = schema.Validate(out)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := high.Eval(out)
			if err != nil || got != tt.wantHigh {
				t.Errorf("route condition = %v, %v; want %v", got, err, tt.wantHigh)
			}
		})
	}
}

func BenchmarkSchemaValidate(b *testing.B) {
	s, err := CompileSchemaFile(filepath.Join("testdata", "schemas", "order.json"))
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
		if err := s.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline is one message through decode, transform, validate and route, on
// every core: its ns/op divided by GOMAXPROCS is the per-core cost the flow engine's
// 100,000 messages/s target is measured against.
func BenchmarkPipeline(b *testing.B) {
	tmpl, err := CompileTemplate(seedMapping())
	if err != nil {
		b.Fatal(err)
	}
	schema, err := CompileSchemaFile(filepath.Join("testdata", "schemas", "order.json"))
	if err != nil {
		b.Fatal(err)
	}
	high, err := CompileCondition("total >= 1000")
	if err != nil {
		b.Fatal(err)
	}
	msg := orderJSON(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			doc, err := Decode(msg)
			if err != nil {
				b.Error(err)
				return
			}
			out, err := tmpl.Apply(doc)
			if err != nil {
				b.Error(err)
				return
			}
			if err := schema.Validate(out); err != nil {
				b.Error(err)
				return
			}
			if _, err := high.Eval(out); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestSchemaAdditionalPropertiesStable: the library lists additional properties in the
// document's map order; the problem names them sorted, the same every time.
func TestSchemaAdditionalPropertiesStable(t *testing.T) {
	s, err := CompileSchema(map[string]any{"properties": map[string]any{}, "additionalProperties": false})
	if err != nil {
		t.Fatal(err)
	}
	doc := mustDecode(t, `{"d": 1, "b": 2, "a": 3, "c": 4, "e": 5}`)
	want := "(document): additional properties 'a', 'b', 'c', 'd', 'e' not allowed"
	for range 50 {
		if err := s.Validate(doc); err == nil || err.Error() != want {
			t.Fatalf("Validate = %v, want %s", err, want)
		}
	}
}

// TestSchemaHugeExponent: jsonschema panics comparing a number big.Rat cannot read with
// a bound; Validate reports it as a problem instead.
func TestSchemaHugeExponent(t *testing.T) {
	s, err := CompileSchema(orderSchema())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate(mustDecode(t, `{"id": 1, "total": 1E1000001, "items": [{"sku": "a", "qty": -1e9999999}]}`))
	want := "/items/0/qty: number -1e9999999 is out of the range that can be checked; /total: number 1E1000001 is out of the range that can be checked"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate = %v, want %s", err, want)
	}
}
