package option_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/option"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/format/formattest"
)

var formatSpec = &option.Spec{Fields: []option.Field{option.Format()}}

// decodeFormat decodes a connector block written in dir/junction.cai (or .yaml when
// name says so) for role.
func decodeFormat(t *testing.T, dir, name, src string, role option.Role) (format.Codec, error) {
	t.Helper()
	file := filepath.Join(dir, name)
	cfg, diags := config.Decode(file, []byte(src))
	if diags.HasErrors() {
		t.Fatalf("decode: %v", diags.Err())
	}
	v, err := formatSpec.Decode(option.Input{What: "test connector c", Options: cfg.Connectors[0].Options, Role: role,
		Lookup: func(name string) (string, bool) {
			return map[string]string{"REG_PASSWORD": "pw"}[name], name == "REG_PASSWORD"
		}})
	if err != nil {
		return nil, err
	}
	return option.FormatCodec(v), nil
}

func TestFormatOption(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "point.avsc"), []byte(`{"type": "record", "name": "P", "fields": [{"name": "x", "type": "int"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	set := formattest.DescriptorSetFile(t, filepath.Join("..", "..", "format", "testdata", "order.proto"))
	if err := os.Rename(set, filepath.Join(dir, "order.binpb")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, file, src string
		role            option.Role
		want            string // format.Name of the codec
	}{
		{"not set: JSON", "junction.cai", "connector c { type: test }", option.Source, "JSON"},
		{"a name", "junction.cai", "connector c { type: test\nformat: xml }", option.Source, "XML"},
		{"xml block", "junction.cai", `connector c { type: test
format: { type: xml, xml_arrays: ["item"] } }`, option.Source, "XML"},
		{"avro schema block", "junction.cai", `connector c { type: test
format: { type: avro, schema: { type: record, name: Order, fields: [{ name: id, type: long }, { name: tags, type: { type: array, items: string } }] } } }`, option.Sink, "Avro"},
		{"avro schema text", "junction.cai", `connector c { type: test
format: { type: avro, schema: "{\"type\": \"string\"}" } }`, option.Sink, "Avro"},
		{"avro schema file, relative to the configuration", "junction.cai", `connector c { type: test
format: { type: avro, schema_file: "point.avsc" } }`, option.Sink, "Avro"},
		{"avro registry", "junction.cai", `connector c { type: test
format: { type: avro, registry: { url: "http://127.0.0.1:8081", subject: "points-value", username: "u", password: env(REG_PASSWORD) } } }`, option.Sink, "Avro"},
		{"avro registry source needs no subject", "junction.cai", `connector c { type: test
format: { type: avro, registry: { url: "http://127.0.0.1:8081" } } }`, option.Source, "Avro"},
		{"avro registry source with a reader schema", "junction.cai", `connector c { type: test
format: { type: avro, registry: { url: "http://127.0.0.1:8081" }, schema_file: "point.avsc" } }`, option.Source, "Avro"},
		{"protobuf", "junction.cai", `connector c { type: test
format: { type: protobuf, descriptor_set: "order.binpb", message: "shop.Order" } }`, option.Source, "Protobuf"},
		{"YAML", "junction.yaml", `connectors:
  c:
    type: test
    format:
      type: avro
      schema:
        type: record
        name: P
        fields:
          - {name: x, type: int}
`, option.Source, "Avro"},
	} {
		t.Run(c.name, func(t *testing.T) {
			codec, err := decodeFormat(t, dir, c.file, c.src, c.role)
			if err != nil {
				t.Fatal(err)
			}
			if got := format.Name(codec); got != c.want {
				t.Errorf("codec %s, want %s", got, c.want)
			}
		})
	}
}

func TestFormatOptionErrors(t *testing.T) {
	dir := t.TempDir()
	set := formattest.DescriptorSetFile(t, filepath.Join("..", "..", "format", "testdata", "order.proto"))
	if err := os.Rename(set, filepath.Join(dir, "order.binpb")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.binpb"), []byte("syntax = proto3"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, src string
		role      option.Role
		wantErr   string // with the position: line 2 is the format's
	}{
		{"unknown format", `format: csv`, option.Source, `junction.cai:2:1: test connector c: format: type: expected json, xml, avro or protobuf, found "csv"`},
		{"setting of another format", `format: { type: xml, message: "a.B" }`, option.Source, `junction.cai:2:22: test connector c: format: message: is a setting of the protobuf format, not of xml`},
		{"avro without a schema", `format: avro`, option.Source, `junction.cai:2:1: test connector c: format: missing schema: the avro format needs a schema (schema or schema_file), or a registry`},
		{"bad avro schema", `format: { type: avro, schema: { type: record, name: R } }`, option.Source, `junction.cai:2:23: test connector c: format: schema: invalid Avro schema: avro: record must have an array of fields`},
		{"missing schema file", `format: { type: avro, schema_file: "nope.avsc" }`, option.Source, "junction.cai:2:23: test connector c: format: schema_file: open " + filepath.Join(dir, "nope.avsc") + ": no such file or directory"},
		{"schema and schema file", `format: { type: avro, schema: "\"int\"", schema_file: "x.avsc" }`, option.Source, `junction.cai:2:42: test connector c: format: schema_file: set schema or schema_file, not both`},
		{"registry sink without a subject", `format: { type: avro, registry: { url: "http://r:8081" } }`, option.Sink, `junction.cai:2:33: test connector c: format: registry: missing subject, which a sink needs: the subject a sink's schema is registered under (Kafka's convention: TOPIC-value)`},
		{"registry URL with credentials", `format: { type: avro, registry: { url: "http://u:secret@r:8081" } }`, option.Source, `junction.cai:2:35: test connector c: format: registry: url: the schema registry URL must not hold credentials: set username and password`},
		{"protobuf without a message", `format: { type: protobuf, descriptor_set: "order.binpb" }`, option.Source, `junction.cai:2:9: test connector c: format: missing message: the protobuf format needs the message type's name`},
		{"protobuf unknown message", `format: { type: protobuf, descriptor_set: "order.binpb", message: "shop.Nope" }`, option.Source, `junction.cai:2:58: test connector c: format: message: no message "shop.Nope" in the descriptor set; it has google.protobuf.Timestamp, shop.Line, shop.Order`},
		{"protobuf set that is not one", `format: { type: protobuf, descriptor_set: "junk.binpb", message: "shop.Order" }`, option.Source, `junction.cai:2:27: test connector c: format: descriptor_set: not a protobuf descriptor set (a FileDescriptorSet): `},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeFormat(t, dir, "junction.cai", "connector c { type: test\n"+c.src+"\n}", c.role)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error = %v, want %q", err, c.wantErr)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
}
