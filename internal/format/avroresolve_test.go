package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/junctionhq/junction/internal/fakeapi"
)

// The versions of a subject a consumer reads as orderV2: v1 is older (a field since
// dropped, one renamed, narrower numbers, an enum symbol v2 lacks, a union v2 made a
// plain string, nested records and an array of records with fewer fields).
const (
	orderV1 = `{"type": "record", "name": "Order", "namespace": "shop", "fields": [
	  {"name": "id", "type": "int"},
	  {"name": "amount", "type": "float"},
	  {"name": "customer_name", "type": "string"},
	  {"name": "legacy", "type": {"type": "map", "values": {"type": "array", "items": ["null", "long", {"type": "fixed", "name": "Tag", "size": 2}]}}},
	  {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "REFUNDED"]}},
	  {"name": "note", "type": ["null", "string"], "default": null},
	  {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
	    {"name": "city", "type": "string"}, {"name": "zip", "type": "int"}]}},
	  {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
	    {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"}]}}}
	]}`
	orderV2 = `{"type": "record", "name": "Order", "namespace": "shop", "fields": [
	  {"name": "id", "type": "long"},
	  {"name": "amount", "type": "double"},
	  {"name": "customer", "type": "string", "aliases": ["customer_name"]},
	  {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "UNKNOWN"], "default": "UNKNOWN"}},
	  {"name": "note", "type": "string"},
	  {"name": "channel", "type": "string", "default": "web"},
	  {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
	    {"name": "city", "type": "string"}, {"name": "country", "type": "string", "default": "NL"}]}},
	  {"name": "lines", "type": {"type": "array", "items": {"type": "record", "name": "Line", "fields": [
	    {"name": "sku", "type": "string"}, {"name": "qty", "type": "long"},
	    {"name": "discount", "type": ["null", "double"], "default": null}]}}},
	  {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}, "default": 0}
	]}`
)

// registryMessage encodes tree with schema as a producer would: registered under
// subject, in the registry's wire format.
func registryMessage(t *testing.T, reg *fakeapi.SchemaRegistry, subject, schema, tree string) []byte {
	t.Helper()
	b, err := newRegistryCodec(t, reg, AvroOptions{Schema: schema, Subject: subject}).Encode(mustTree(t, tree))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b
}

// TestAvroReaderSchema: with a registry and a schema, messages of every writer version
// come out in the schema's shape, and each writer schema is fetched once.
func TestAvroReaderSchema(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{Username: "u", Password: "p"})
	v1 := registryMessage(t, reg, "orders-value", orderV1, `{
	  "id": 7, "amount": 0.1, "customer_name": "Ann", "legacy": {"a": [null, 5, "AAE="], "b": []},
	  "status": "REFUNDED", "note": "ring twice", "address": {"city": "Utrecht", "zip": 3511},
	  "lines": [{"sku": "s1", "qty": 2}, {"sku": "s2", "qty": 1}]}`)
	v1Paid := registryMessage(t, reg, "orders-value", orderV1, `{
	  "id": 8, "amount": 2.5, "customer_name": "Bo", "legacy": {}, "status": "PAID", "note": "x",
	  "address": {"city": "Gouda", "zip": 2801}, "lines": []}`)
	v2 := registryMessage(t, reg, "orders-value", orderV2, `{
	  "id": 9007199254740993, "amount": 0.1, "customer": "Cy", "status": "NEW", "note": "",
	  "channel": "app", "address": {"city": "Delft", "country": "BE"},
	  "lines": [{"sku": "s3", "qty": 4, "discount": 0.5}], "created": "2026-01-02T15:04:05.123Z"}`)
	if binary.BigEndian.Uint32(v1[1:5]) == binary.BigEndian.Uint32(v2[1:5]) {
		t.Fatal("both versions have one id")
	}

	dec := newRegistryCodec(t, reg, AvroOptions{Schema: orderV2})
	for _, tt := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"v1", v1, `{
		  "id": 7, "amount": 0.1, "customer": "Ann", "status": "UNKNOWN", "note": "ring twice", "channel": "web",
		  "address": {"city": "Utrecht", "country": "NL"},
		  "lines": [{"sku": "s1", "qty": 2, "discount": null}, {"sku": "s2", "qty": 1, "discount": null}],
		  "created": "1970-01-01T00:00:00Z"}`},
		{"v1 with a symbol the reader has", v1Paid, `{
		  "id": 8, "amount": 2.5, "customer": "Bo", "status": "PAID", "note": "x", "channel": "web",
		  "address": {"city": "Gouda", "country": "NL"}, "lines": [], "created": "1970-01-01T00:00:00Z"}`},
		{"v2", v2, `{
		  "id": 9007199254740993, "amount": 0.1, "customer": "Cy", "status": "NEW", "note": "", "channel": "app",
		  "address": {"city": "Delft", "country": "BE"},
		  "lines": [{"sku": "s3", "qty": 4, "discount": 0.5}], "created": "2026-01-02T15:04:05.123Z"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					got, err := dec.Decode(tt.msg)
					if err != nil {
						t.Errorf("Decode: %v", err)
					} else if diff := cmp.Diff(mustTree(t, tt.want), got); diff != "" {
						t.Errorf("Decode (-want +got):\n%s", diff)
					}
				})
			}
			wg.Wait()
		})
	}

	// A null in v1's note, which v2 made a plain string, fails that message alone.
	v1Null := registryMessage(t, reg, "orders-value", orderV1, `{
	  "id": 1, "amount": 0, "customer_name": "", "legacy": {}, "status": "NEW",
	  "address": {"city": "", "zip": 0}, "lines": []}`)
	id1 := binary.BigEndian.Uint32(v1[1:5])
	_, err := dec.Decode(v1Null)
	if want := fmt.Sprintf("schema %d: field note: the writer's null cannot be read as the reader's string", id1); err == nil || err.Error() != want {
		t.Errorf("v1 with a null note: %v, want %q", err, want)
	}
	if _, unavailable := errors.AsType[*UnavailableError](err); unavailable {
		t.Errorf("v1 with a null note: %v is an UnavailableError, want a permanent error", err)
	}

	for _, msg := range [][]byte{v1, v2} {
		id := binary.BigEndian.Uint32(msg[1:5])
		if n := len(reg.RequestsTo(http.MethodGet, fmt.Sprintf("/schemas/ids/%d", id))); n != 1 {
			t.Errorf("%d fetches of schema %d, want 1", n, id)
		}
	}
	plans := 0
	dec.plans.Range(func(any, any) bool { plans++; return true })
	if plans != 2 {
		t.Errorf("%d resolutions kept, want 2 (one per writer id)", plans)
	}
}

// TestAvroReaderSchemaIncompatible: a writer schema the reader's cannot read fails every
// message of its id with an error naming both schemas and the field, permanently, and
// it is matched once.
func TestAvroReaderSchemaIncompatible(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{})
	const reader = `{"type": "record", "name": "Point", "namespace": "geo", "fields": [
	  {"name": "x", "type": "int"}, {"name": "y", "type": "int"},
	  {"name": "tags", "type": {"type": "array", "items": {"type": "record", "name": "Tag", "fields": [{"name": "k", "type": "string"}]}}, "default": []}]}`
	for _, tt := range []struct {
		name, writer, tree, wantErr string
	}{
		{"reader field without a default", `{"type": "record", "name": "Point", "namespace": "geo", "fields": [{"name": "x", "type": "int"}]}`,
			`{"x": 1}`, "field y: not in the writer's record geo.Point, and the reader's gives no default"},
		{"type mismatch", `{"type": "record", "name": "Point", "namespace": "geo", "fields": [{"name": "x", "type": "string"}, {"name": "y", "type": "int"}]}`,
			`{"x": "1", "y": 2}`, "field x: the writer's string cannot be read as the reader's int"},
		{"narrowing", `{"type": "record", "name": "Point", "namespace": "geo", "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "int"}]}`,
			`{"x": 1, "y": 2}`, "field x: the writer's long cannot be read as the reader's int"},
		{"nested", `{"type": "record", "name": "Point", "namespace": "geo", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"},
		  {"name": "tags", "type": {"type": "array", "items": {"type": "record", "name": "Tag", "fields": [{"name": "k", "type": "int"}]}}}]}`,
			`{"x": 1, "y": 2, "tags": []}`, "field tags[*].k: the writer's int cannot be read as the reader's string"},
		{"another record", `{"type": "record", "name": "Spot", "namespace": "geo", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "int"}]}`,
			`{"x": 1, "y": 2}`, "the writer's record geo.Spot is not the reader's record geo.Point (the names differ, and no alias of the reader's names the writer's)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			subject := strings.ReplaceAll(tt.name, " ", "-") + "-value"
			msg := registryMessage(t, reg, subject, tt.writer, tt.tree)
			id := binary.BigEndian.Uint32(msg[1:5])
			dec := newRegistryCodec(t, reg, AvroOptions{Schema: reader})
			writerName := "geo.Point"
			if tt.name == "another record" {
				writerName = "geo.Spot"
			}
			want := fmt.Sprintf("schema %d: the writer's record %s cannot be read as the reader's record geo.Point: %s", id, writerName, tt.wantErr)
			for range 2 {
				_, err := dec.Decode(msg)
				if err == nil || err.Error() != want {
					t.Errorf("Decode: %v\nwant %s", err, want)
				}
				if _, unavailable := errors.AsType[*UnavailableError](err); unavailable {
					t.Errorf("Decode: %v is an UnavailableError, want a permanent error", err)
				}
			}
			if n := len(reg.RequestsTo(http.MethodGet, fmt.Sprintf("/schemas/ids/%d", id))); n != 1 {
				t.Errorf("%d fetches of schema %d, want 1", n, id)
			}
		})
	}
}

// TestAvroReaderSchemaRegistryDown: a writer schema that could not be fetched is asked
// for again, and read once the registry answers.
func TestAvroReaderSchemaRegistryDown(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{})
	msg := registryMessage(t, reg, "points-value", pointSchema, `{"x": 1}`)
	dec := newRegistryCodec(t, reg, AvroOptions{Schema: `{"type": "record", "name": "Point", "fields": [{"name": "x", "type": "double"}]}`})
	reg.FailNext(1, http.StatusServiceUnavailable)
	if _, err := dec.Decode(msg); err == nil {
		t.Fatal("Decode with the registry failing: no error")
	} else if _, unavailable := errors.AsType[*UnavailableError](err); !unavailable {
		t.Errorf("Decode with the registry failing: %v, want an UnavailableError", err)
	}
	got, err := dec.Decode(msg)
	if err != nil {
		t.Fatalf("Decode once the registry answers: %v", err)
	}
	if diff := cmp.Diff(mustTree(t, `{"x": 1}`), got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

// resolveTree writes tree with the writer's schema and reads it with the reader's.
func resolveTree(t *testing.T, writer, reader, tree string) (any, error) {
	t.Helper()
	w, err := parseAvroSchema(writer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseAvroSchema(reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeAvro(nil, w, mustTree(t, tree))
	if err != nil {
		t.Fatalf("encoding %s: %v", tree, err)
	}
	p, err := resolveSchemas(w, r)
	if err != nil {
		return nil, err
	}
	return decodeResolved(p, b)
}

func TestAvroResolve(t *testing.T) {
	const (
		linked = `{"type": "record", "name": "Node", "fields": [{"name": "v", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}`
		status = `{"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "REFUNDED"]}`
		money  = `{"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}`
	)
	for _, tt := range []struct {
		name, writer, reader, tree, want string
	}{
		{"int as long", `"int"`, `"long"`, `-3`, `-3`},
		{"int as float", `"int"`, `"float"`, `16777217`, `16777217`},
		{"int as double", `"int"`, `"double"`, `5`, `5`},
		{"long as double keeps the number", `"long"`, `"double"`, `9007199254740993`, `9007199254740993`},
		{"float as double keeps the number", `"float"`, `"double"`, `0.1`, `0.1`},
		{"float NaN as double", `"float"`, `"double"`, `"NaN"`, `"NaN"`},
		{"string as bytes", `"string"`, `"bytes"`, `"hi"`, `"aGk="`},
		{"bytes as string", `"bytes"`, `"string"`, `"aGk="`, `"hi"`},
		{"long as timestamp", `"long"`, `{"type": "long", "logicalType": "timestamp-millis"}`, `1767366245123`, `"2026-01-02T15:04:05.123Z"`},
		{"timestamp as long", `{"type": "long", "logicalType": "timestamp-millis"}`, `"long"`, `"2026-01-02T15:04:05.123Z"`, `1767366245123`},
		{"int as date", `"int"`, `{"type": "int", "logicalType": "date"}`, `1`, `"1970-01-02"`},
		{"decimal of another precision", money, `{"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}`, `1234.5`, `1234.50`},
		{"writer union, value of the reader's type", `["null", "string"]`, `"string"`, `"x"`, `"x"`},
		{"reader union", `"string"`, `["null", "string"]`, `"x"`, `"x"`},
		{"reader union: the same type before a promotion", `"string"`, `["bytes", "string"]`, `"hi"`, `"hi"`},
		{"reader union: a promotion", `"int"`, `["null", "string", "double"]`, `4`, `4`},
		{"both unions", `["int", "string"]`, `["null", "long", "string"]`, `3`, `3`},
		{"both unions, another branch", `["int", "string"]`, `["null", "long", "string"]`, `"s"`, `"s"`},
		{"writer union with a branch the reader lacks", `["null", "int", "boolean"]`, `["null", "long"]`, `null`, `null`},
		{"enum symbol the reader has", status, `{"type": "enum", "name": "Status", "symbols": ["PAID", "NEW"]}`, `"PAID"`, `"PAID"`},
		{"enum symbol the reader lacks", status, `{"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "OTHER"], "default": "OTHER"}`, `"REFUNDED"`, `"OTHER"`},
		{"enum renamed", status, `{"type": "enum", "name": "State", "aliases": ["Status"], "symbols": ["NEW", "PAID", "REFUNDED"]}`, `"NEW"`, `"NEW"`},
		{"fixed", `{"type": "fixed", "name": "Hash", "size": 2}`, `{"type": "fixed", "name": "Hash", "size": 2}`, `"AAE="`, `"AAE="`},
		{"map values promoted", `{"type": "map", "values": "int"}`, `{"type": "map", "values": "double"}`, `{"a": 1, "b": -2}`, `{"a": 1, "b": -2}`},
		{"array of records", `{"type": "array", "items": {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}}`,
			`{"type": "array", "items": {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": "-"}]}}`,
			`[{"a": 1}, {"a": 2}]`, `[{"a": 1, "b": "-"}, {"a": 2, "b": "-"}]`},
		{"record renamed by an alias", `{"type": "record", "name": "Old", "namespace": "a", "fields": [{"name": "x", "type": "int"}]}`,
			`{"type": "record", "name": "New", "namespace": "b", "aliases": ["a.Old"], "fields": [{"name": "x", "type": "int"}]}`, `{"x": 1}`, `{"x": 1}`},
		{"record of another namespace", `{"type": "record", "name": "R", "namespace": "a", "fields": [{"name": "x", "type": "int"}]}`,
			`{"type": "record", "name": "R", "namespace": "b", "fields": [{"name": "x", "type": "int"}]}`, `{"x": 1}`, `{"x": 1}`},
		{"field by name before alias",
			`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]}`,
			`{"type": "record", "name": "R", "fields": [{"name": "c", "type": "int", "aliases": ["a", "b"]}, {"name": "a", "type": "int"}]}`,
			`{"a": 1, "b": 2}`, `{"a": 1, "c": 2}`},
		{"defaults of every kind",
			`{"type": "record", "name": "R", "fields": []}`,
			`{"type": "record", "name": "R", "fields": [
			  {"name": "n", "type": ["null", "int"], "default": null},
			  {"name": "b", "type": "bytes", "default": "\u0000\u0001"},
			  {"name": "m", "type": ` + money + `, "default": "\u0004\u00d2"},
			  {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}, "default": "B"},
			  {"name": "a", "type": {"type": "array", "items": "int"}, "default": [1, 2]},
			  {"name": "r", "type": {"type": "record", "name": "In", "fields": [{"name": "x", "type": "int"}, {"name": "y", "type": "string", "default": "why"}]}, "default": {"x": 3}},
			  {"name": "d", "type": {"type": "int", "logicalType": "date"}, "default": 2},
			  {"name": "u", "type": [` + money + `, "null"], "default": "\u0004\u00d2"},
			  {"name": "f", "type": {"type": "fixed", "name": "Cents", "size": 2, "logicalType": "decimal", "precision": 4, "scale": 2}, "default": "\u0004\u00d2"},
			  {"name": "g", "type": "Cents", "default": "\u0000\u0001"}]}`,
			`{}`, `{"n": null, "b": "AAE=", "m": 12.34, "e": "B", "a": [1, 2], "r": {"x": 3, "y": "why"}, "d": "1970-01-03", "u": 12.34, "f": 12.34, "g": 0.01}`},
		{"dropped fields of every kind",
			`{"type": "record", "name": "R", "fields": [
			  {"name": "a", "type": "int"},
			  {"name": "gone", "type": {"type": "record", "name": "G", "fields": [
			    {"name": "b", "type": "boolean"}, {"name": "f", "type": "float"}, {"name": "d", "type": "double"}, {"name": "s", "type": "string"},
			    {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}}, {"name": "x", "type": {"type": "fixed", "name": "X", "size": 3}},
			    {"name": "m", "type": {"type": "map", "values": ["null", {"type": "array", "items": "long"}]}}]}},
			  {"name": "z", "type": "string"}]}`,
			`{"type": "record", "name": "R", "fields": [{"name": "z", "type": "string"}, {"name": "a", "type": "long"}]}`,
			`{"a": 1, "gone": {"b": true, "f": 1.5, "d": 2.5, "s": "text", "e": "B", "x": "AAEC", "m": {"k": [1, 2, 3], "l": null}}, "z": "end"}`,
			`{"a": 1, "z": "end"}`},
		{"recursive", linked,
			`{"type": "record", "name": "Node", "fields": [{"name": "v", "type": "long"}, {"name": "w", "type": "int", "default": 0}, {"name": "next", "type": ["null", "Node"]}]}`,
			`{"v": 1, "next": {"v": 2, "next": null}}`, `{"v": 1, "w": 0, "next": {"v": 2, "w": 0, "next": null}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveTree(t, tt.writer, tt.reader, tt.tree)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(mustTree(t, tt.want), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAvroResolveErrors(t *testing.T) {
	const status = `{"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "REFUNDED"]}`
	for _, tt := range []struct {
		name, writer, reader, tree, wantErr string
	}{
		{"double as float", `"double"`, `"float"`, `1`, "the writer's double cannot be read as the reader's float"},
		{"string as int", `"string"`, `"int"`, `"1"`, "the writer's string cannot be read as the reader's int"},
		{"two timestamps", `{"type": "long", "logicalType": "timestamp-millis"}`, `{"type": "long", "logicalType": "timestamp-micros"}`, `0`,
			"the writer's long (timestamp-millis) cannot be read as the reader's long (timestamp-micros)"},
		{"decimals of other scales", `{"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}`, `{"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 3}`, `1`,
			"the writer's bytes (decimal, scale 2) cannot be read as the reader's bytes (decimal, scale 3)"},
		{"decimal beyond the reader's precision", `{"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}`, `{"type": "bytes", "logicalType": "decimal", "precision": 3, "scale": 2}`, `1234.5`,
			"invalid Avro at offset 4: a decimal of 6 digits, more than its precision of 3"},
		{"fixed of another size", `{"type": "fixed", "name": "H", "size": 2}`, `{"type": "fixed", "name": "H", "size": 4}`, `"AAE="`,
			"the writer's fixed H holds 2 bytes, the reader's 4"},
		{"fixed of another name", `{"type": "fixed", "name": "H", "size": 2}`, `{"type": "fixed", "name": "K", "size": 2}`, `"AAE="`,
			"the writer's fixed H is not the reader's fixed K (the names differ, and no alias of the reader's names the writer's)"},
		{"enum as a record", status, `{"type": "record", "name": "R", "fields": []}`, `"NEW"`,
			"the writer's enum Status cannot be read as the reader's record R"},
		{"reader union without the writer's type", `"boolean"`, `["null", "string"]`, `true`,
			"the writer's boolean is none of the types of the reader's union [null, string]"},
		{"writer union without a branch the reader has", `["null", "boolean"]`, `"string"`, `true`,
			"the writer's null cannot be read as the reader's string"},
		{"the writer's branch the reader lacks, in a message", `["null", "int", "boolean"]`, `["null", "long"]`, `true`,
			"the writer's boolean cannot be read as the reader's union [null, long]"},
		{"enum symbol the reader lacks, in a message", `{"type": "record", "name": "R", "fields": [{"name": "s", "type": ` + status + `}]}`,
			`{"type": "record", "name": "R", "fields": [{"name": "s", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}}]}`, `{"s": "REFUNDED"}`,
			"field s: the writer's symbol REFUNDED is not one of the reader's enum Status, which has no default"},
		{"map values", `{"type": "map", "values": {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}}`,
			`{"type": "map", "values": {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}}`, `{}`,
			"field *.a: the writer's string cannot be read as the reader's int"},
		{"the reader's first incompatible field", `{"type": "record", "name": "R", "fields": [{"name": "b", "type": "string"}, {"name": "a", "type": "string"}]}`,
			`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]}`, `{"a": "", "b": ""}`,
			"field a: the writer's string cannot be read as the reader's int"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolveTree(t, tt.writer, tt.reader, tt.tree)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v\nwant %s", err, tt.wantErr)
			}
		})
	}
}

// TestAvroResolveSameSchema: a schema resolved to itself reads as the schema alone does,
// every type and logical type included.
func TestAvroResolveSameSchema(t *testing.T) {
	got, err := resolveTree(t, orderSchema, orderSchema, orderTree)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mustTree(t, orderTree), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// FuzzAvroResolve: reading through a schema's resolution to itself never panics, and
// fails or succeeds as reading with the schema does, with the same tree.
func FuzzAvroResolve(f *testing.F) {
	s, err := parseAvroSchema(orderSchema)
	if err != nil {
		f.Fatal(err)
	}
	p, err := resolveSchemas(s, s)
	if err != nil {
		f.Fatal(err)
	}
	seed, err := encodeAvro(nil, s, mustTree(f, orderTree))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		want, wantErr := decodeAvro(s, in)
		got, err := decodeResolved(p, in)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("resolved: %v, alone: %v", err, wantErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("(-alone +resolved):\n%s", diff)
		}
	})
}

// FuzzAvroResolveVersions: reading v1's bytes as v2 never panics, and what it reads is
// a value of v2 (it encodes with v2's schema).
func FuzzAvroResolveVersions(f *testing.F) {
	w, err := parseAvroSchema(orderV1)
	if err != nil {
		f.Fatal(err)
	}
	r, err := parseAvroSchema(orderV2)
	if err != nil {
		f.Fatal(err)
	}
	p, err := resolveSchemas(w, r)
	if err != nil {
		f.Fatal(err)
	}
	seed, err := encodeAvro(nil, w, mustTree(f, `{
	  "id": 7, "amount": 0.1, "customer_name": "Ann", "legacy": {"a": [null, 5, "AAE="]}, "status": "REFUNDED",
	  "note": "n", "address": {"city": "U", "zip": 1}, "lines": [{"sku": "s1", "qty": 2}]}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := decodeResolved(p, in)
		if err != nil {
			return
		}
		if _, err := encodeAvro(nil, r, got); err != nil {
			t.Fatalf("the tree read from %x does not encode with the reader's schema: %v", in, err)
		}
	})
}
