package format

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hamba/avro/v2"
)

// orderSchema covers every Avro type and the logical types.
const orderSchema = `{
  "type": "record", "name": "Order", "namespace": "shop",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "qty", "type": "int"},
    {"name": "paid", "type": "boolean"},
    {"name": "rate", "type": "float"},
    {"name": "weight", "type": "double"},
    {"name": "customer", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
      {"name": "sku", "type": "string"}, {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}}]}}},
    {"name": "raw", "type": "bytes"},
    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 4}},
    {"name": "total", "type": {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal", "precision": 12, "scale": 3}},
    {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "seen", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "next", "type": ["null", "Line"], "default": null},
    {"name": "channel", "type": "string", "default": "web"}
  ]}`

const orderTree = `{
  "id": 12345678901234, "qty": 3, "paid": true, "rate": 0.5, "weight": 1.25, "customer": "c-7",
  "note": "leave at door", "status": "PAID", "tags": ["a", "b"], "attrs": {"x": 1, "y": -2},
  "lines": [{"sku": "s1", "price": 12.50}, {"sku": "s2", "price": -0.05}],
  "raw": "AAEC/w==", "hash": "3q2+7w==", "total": 1000.000,
  "created": "2026-01-02T15:04:05.123Z", "seen": "2026-01-02T15:04:05.123456Z", "local": "2026-01-02T15:04:05.5",
  "day": "2026-01-02", "at": "13:14:15.016", "ref": "6f1c0e1e-0000-4000-8000-000000000001",
  "next": {"sku": "s3", "price": 0.01}, "channel": "app"
}`

func mustAvro(t testing.TB, o AvroOptions) *Avro {
	t.Helper()
	a, err := NewAvro(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAvroRoundTrip(t *testing.T) {
	a := mustAvro(t, AvroOptions{Schema: orderSchema})
	want := mustTree(t, orderTree)
	b, err := a.Encode(want)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := a.Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	again, err := a.Encode(got)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("encoding the decoded tree gave other bytes (err %v)", err)
	}
}

// TestAvroAgreesWithHamba: what Encode writes, hamba/avro reads as the same values, and
// what hamba/avro writes, Decode reads; so both follow the specification, not just each
// other.
func TestAvroAgreesWithHamba(t *testing.T) {
	const schema = `{"type": "record", "name": "R", "fields": [
	  {"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "score", "type": "double"},
	  {"name": "note", "type": ["null", "string"]}, {"name": "items", "type": {"type": "array", "items": "int"}},
	  {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
	  {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}`
	type rec struct {
		ID    int64     `avro:"id"`
		Name  string    `avro:"name"`
		Score float64   `avro:"score"`
		Note  *string   `avro:"note"`
		Items []int32   `avro:"items"`
		Price *big.Rat  `avro:"price"`
		At    time.Time `avro:"at"`
	}
	note := "hi"
	in := rec{ID: -9007199254740993, Name: "grüße", Score: 2.5, Note: &note, Items: []int32{1, -2, 300},
		Price: big.NewRat(-12345, 100), At: time.UnixMilli(1767366245123).UTC()}
	s := avro.MustParse(schema)
	theirs, err := avro.Marshal(s, in)
	if err != nil {
		t.Fatal(err)
	}
	a := mustAvro(t, AvroOptions{Schema: schema})
	tree, err := a.Decode(theirs)
	if err != nil {
		t.Fatalf("Decode(hamba's bytes): %v", err)
	}
	want := mustTree(t, `{"id": -9007199254740993, "name": "grüße", "score": 2.5, "note": "hi", "items": [1, -2, 300], "price": -123.45, "at": "2026-01-02T15:04:05.123Z"}`)
	if diff := cmp.Diff(want, tree); diff != "" {
		t.Errorf("Decode(hamba's bytes) (-want +got):\n%s", diff)
	}
	ours, err := a.Encode(tree)
	if err != nil {
		t.Fatal(err)
	}
	var out rec
	if err := avro.Unmarshal(s, ours, &out); err != nil {
		t.Fatalf("hamba reading Encode's bytes: %v", err)
	}
	if out.ID != in.ID || out.Name != in.Name || *out.Note != note || out.Price.Cmp(in.Price) != 0 || !out.At.Equal(in.At) || len(out.Items) != 3 || out.Items[2] != 300 {
		t.Errorf("hamba read %+v, want %+v", out, in)
	}
}

func TestAvroEncodeErrors(t *testing.T) {
	const schema = `{"type": "record", "name": "R", "fields": [
	  {"name": "n", "type": "int"}, {"name": "s", "type": ["null", "string", "long"], "default": null},
	  {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}, "default": "A"},
	  {"name": "d", "type": {"type": "bytes", "logicalType": "decimal", "precision": 4, "scale": 2}, "default": "\u0000"},
	  {"name": "f", "type": {"type": "fixed", "name": "F", "size": 2}, "default": "ab"},
	  {"name": "t", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}]}`
	a := mustAvro(t, AvroOptions{Schema: schema})
	for _, tt := range []struct{ in, wantErr string }{
		{`[1]`, "$: expected an object (record R), found an array"},
		{`{}`, "$.n: missing, and the schema gives no default"},
		{`{"n": "1"}`, `$.n: expected a whole number, found "1"`},
		{`{"n": 1.5}`, "$.n: expected a whole number that fits int, found 1.5"},
		{`{"n": 2147483648}`, "$.n: 2147483648 does not fit an Avro int (32 bits)"},
		{`{"n": 1, "x": 2}`, `$: record R has no field "x"`},
		{`{"n": 1, "s": true}`, "$.s: expected a value of one of the union's types (null, string, long), found true"},
		{`{"n": 1, "e": "C"}`, `$.e: expected one of A, B, found "C"`},
		{`{"n": 1, "d": 1.234}`, "$.d: 1.234 has more than 2 decimals"},
		{`{"n": 1, "d": 123.45}`, "$.d: 123.45 has more than 4 digits"},
		{`{"n": 1, "d": 1, "f": "AAAA"}`, "$.f: fixed F holds 2 bytes, found 3"},
		{`{"n": 1, "d": 1, "f": "!"}`, "$.f: expected base64: illegal base64 data at input byte 0"},
		{`{"n": 1, "d": 1, "f": "AAA=", "t": "yesterday"}`, `$.t: expected timestamp-millis as "RFC 3339", found "yesterday"`},
	} {
		_, err := a.Encode(mustTree(t, tt.in))
		if err == nil || err.Error() != tt.wantErr {
			t.Errorf("Encode(%s) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
	// Defaults of every kind: null, an enum symbol, decimal bytes, fixed, a timestamp.
	b, err := a.Encode(mustTree(t, `{"n": 1}`))
	if err != nil {
		t.Fatalf("Encode with defaults: %v", err)
	}
	got, err := a.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mustTree(t, `{"n": 1, "s": null, "e": "A", "d": 0.00, "f": "YWI=", "t": "1970-01-01T00:00:00Z"}`), got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	// A union takes the first branch a value fits: 5 is a long, "5" a string.
	b, err = a.Encode(mustTree(t, `{"n": 1, "s": 5, "d": 1, "f": "AAA=", "t": 0}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err = a.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mustTree(t, `{"n": 1, "s": 5, "e": "A", "d": 1.00, "f": "AAA=", "t": "1970-01-01T00:00:00Z"}`), got); diff != "" {
		t.Errorf("defaults and union (-want +got):\n%s", diff)
	}
}

func TestAvroDecodeErrors(t *testing.T) {
	a := mustAvro(t, AvroOptions{Schema: `{"type": "record", "name": "R", "fields": [
	  {"name": "s", "type": "string"}, {"name": "l", "type": {"type": "array", "items": "null"}}, {"name": "u", "type": ["null", "int"]}]}`})
	for _, tt := range []struct {
		in      []byte
		wantErr string
	}{
		{nil, "invalid Avro at offset 0: unexpected end of the message"},
		{[]byte{0x06, 'a'}, "invalid Avro at offset 1: a length of 3 with 1 bytes left"},
		{[]byte{0x01}, "invalid Avro at offset 1: a length of -1 with 0 bytes left"},
		{[]byte{0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f}, "invalid Avro at offset 6: a block of 2147483647 items with 0 bytes left"},
		{[]byte{0x00, 0x00, 0x04}, "invalid Avro at offset 3: union branch 2 of 2"},
		{[]byte{0x00, 0x00, 0x00, 0x00}, "invalid Avro at offset 3: 1 bytes after the value"},
		{[]byte{0x00, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff}, "invalid Avro at offset 3: unexpected end of the message"},
		{[]byte{0x00, 0x00, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x1f}, "invalid Avro at offset 8: an int beyond 32 bits"},
	} {
		if _, err := a.Decode(tt.in); err == nil || err.Error() != tt.wantErr {
			t.Errorf("Decode(%x) error = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestNewAvroErrors(t *testing.T) {
	for _, tt := range []struct {
		o       AvroOptions
		wantErr string
	}{
		{AvroOptions{}, "an Avro schema is required without a schema registry"},
		{AvroOptions{Schema: `{"type": "record", "name": "R"}`}, "invalid Avro schema: avro: record must have an array of fields"},
		{AvroOptions{Schema: `{"type": "nope"}`}, "invalid Avro schema: avro: unknown type: nope"},
		{AvroOptions{Schema: `{`}, "invalid Avro schema: avro: unknown type: {"},
	} {
		if _, err := NewAvro(tt.o); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
			t.Errorf("NewAvro(%+v) error = %v, want %q", tt.o, err, tt.wantErr)
		}
	}
}

// TestAvroNamedTypesDoNotLeak: two schemas may name different types alike, as two
// flows reading two topics may.
func TestAvroNamedTypesDoNotLeak(t *testing.T) {
	mustAvro(t, AvroOptions{Schema: `{"type": "record", "name": "Same", "fields": [{"name": "a", "type": "int"}]}`})
	b := mustAvro(t, AvroOptions{Schema: `{"type": "record", "name": "Same", "fields": [{"name": "b", "type": "string"}]}`})
	if _, err := b.Encode(mustTree(t, `{"b": "x"}`)); err != nil {
		t.Errorf("the second schema of the name: %v", err)
	}
}

func TestAvroFloats(t *testing.T) {
	a := mustAvro(t, AvroOptions{Schema: `{"type": "array", "items": ["float", "double"]}`})
	want := mustTree(t, `[0.1, 1e+30, "NaN", "Infinity", "-Infinity"]`)
	b, err := a.Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("floats (-want +got):\n%s", diff)
	}
}

// FuzzAvroDecode: Decode never panics or hangs, and what it decodes encodes back to
// bytes that decode to the same tree.
func FuzzAvroDecode(f *testing.F) {
	a := mustAvro(f, AvroOptions{Schema: orderSchema})
	seed, err := a.Encode(mustTree(f, orderTree))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{0x02, 0x02, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		tree, err := a.Decode(in)
		if err != nil {
			return
		}
		out, err := a.Encode(tree)
		if err != nil {
			t.Fatalf("Encode(Decode(%x)) = %v", in, err)
		}
		again, err := a.Decode(out)
		if err != nil {
			t.Fatalf("Decode(%x): %v", out, err)
		}
		if diff := cmp.Diff(tree, again); diff != "" {
			t.Fatalf("round trip of %x (-first +second):\n%s", in, diff)
		}
	})
}
