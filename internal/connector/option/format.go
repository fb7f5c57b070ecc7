package option

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
)

// FormatName is the name of the option Format declares.
const FormatName = "format"

// formatTypes are the formats a `format` option may name.
var formatTypes = []string{format.NameJSON, format.NameXML, format.NameAvro, format.NameProtobuf}

// Format declares the `format` option of the connectors whose messages are bytes (the
// brokers, the http source): how the flow engine decodes a source's messages into the trees its steps
// work on, and encodes the trees a sink writes. The connector itself never reads it.
//
//	format: xml
//	format: { type: xml, xml_arrays: ["item"] }
//	format: { type: avro, schema_file: "order.avsc" }
//	format: { type: avro, registry: { url: "http://registry:8081", subject: "orders-value" } }
//	format: { type: protobuf, descriptor_set: "shop.binpb", message: "shop.Order" }
//
// Files are read, schemas parsed and message names found while the options are
// decoded, so `junction validate` reports a bad schema at the key that names it. Read
// the codec with FormatCodec.
func Format() Field {
	return Field{
		Name: FormatName, Type: Block, Shorthand: "type",
		Description: `the format of message bodies: how a source's messages are decoded for the flow's steps,
and how a sink's messages are encoded. A name (json, xml, avro, protobuf) or a block with the
format's settings. Default: json. A message that cannot be decoded or encoded fails like any
other bad message (retries, then the dead-letter queue); the flow carries on. An http source's
body that does not decode is refused with 400 instead (docs/formats.md, HTTP sources). See
docs/formats.md for how each format maps onto the JSON the steps see.`,
		Example: `{ type: avro, registry: { url: "http://registry:8081", subject: "orders-value" } }`,
		Fields: []Field{
			{Name: "type", Type: String, Required: Always, Enum: formatTypes,
				Description: "the format: json, xml, avro or protobuf."},
			{Name: "xml_arrays", Type: Strings, Example: `["item", "Contents"]`,
				Description: "xml: elements always read as arrays, even when one occurs."},
			{Name: "schema", Type: Any, Example: `{ type: record, name: Order, fields: [{ name: id, type: long }] }`,
				Description: `avro: the schema, as a block or as its JSON text. With a registry, a sink registers it
and a source reads every message in its shape, resolving the writer's schema to it (docs/formats.md, Reader schemas).`},
			{Name: "schema_file", Type: String, Example: `"schemas/order.avsc"`,
				Description: "avro: a file with the schema's JSON (.avsc), relative to the configuration file."},
			{Name: "registry", Type: Block,
				Description: `avro: a Confluent-compatible schema registry. Messages are then in its wire format
(a zero byte and the schema id, then the Avro encoding); a source decodes each with the schema of its
id, fetched once, resolved to schema (or schema_file) when one is set; a sink registers schema (or schema_file) under subject, or writes with the subject's
latest version when neither is set.`,
				Fields: []Field{
					{Name: "url", Type: String, Required: Always, Example: `"http://registry:8081"`,
						Description: "the registry's base URL (http or https), without credentials."},
					{Name: "subject", Type: String, Required: Sink, Example: `"orders-value"`,
						Description: "the subject a sink's schema is registered under (Kafka's convention: TOPIC-value)."},
					{Name: "username", Type: String, Secret: true, Description: "basic authentication's user name."},
					{Name: "password", Type: String, Secret: true, Description: "basic authentication's password."},
				}},
			{Name: "descriptor_set", Type: String, Example: `"proto/shop.binpb"`,
				Description: "protobuf: a FileDescriptorSet file (protoc --include_imports --descriptor_set_out, or buf build -o), relative to the configuration file."},
			{Name: "message", Type: String, Example: `"shop.Order"`,
				Description: "protobuf: the full name of the message type (package included)."},
		},
		Parse: parseFormat,
	}
}

// FormatCodec returns the codec of the option Format declares: JSON when it is not set.
func FormatCodec(v *Values) format.Codec {
	if c := Get[format.Codec](v, FormatName); c != nil {
		return c
	}
	return format.JSON{}
}

// formatOnly reads the `format` option alone.
var formatOnly = &Spec{Fields: []Field{Format()}}

// FormatOf decodes the `format` option among opts (a connector's merged options) for
// role: the codec, or nil when the option is not set or says json. The component that
// applies the format (the flow engine, `junction connector send`) reads it this way,
// since the connector's own spec declares it but the connector ignores it.
func FormatOf(what string, opts config.Options, role Role, lookup config.LookupEnv) (format.Codec, error) {
	only := config.Options{Pos: opts.Pos}
	for _, e := range opts.Entries {
		if e.Key == FormatName {
			only.Entries = append(only.Entries, e)
		}
	}
	if len(only.Entries) == 0 {
		return nil, nil
	}
	v, err := formatOnly.Decode(Input{What: what, Options: only, Role: role, Lookup: lookup})
	if err != nil {
		return nil, err
	}
	if _, isJSON := FormatCodec(v).(format.JSON); isJSON {
		return nil, nil
	}
	return FormatCodec(v), nil
}

// Declares says whether spec has the option named name (a nil spec, of a connector
// that checks nothing, has every option).
func Declares(spec *Spec, name string) bool {
	if spec == nil {
		return true
	}
	for _, f := range spec.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// formatOwners says which format each setting belongs to, so that a setting of
// another format is an error rather than silently ignored.
var formatOwners = map[string]string{
	"xml_arrays": format.NameXML, "schema": format.NameAvro, "schema_file": format.NameAvro, "registry": format.NameAvro,
	"descriptor_set": format.NameProtobuf, "message": format.NameProtobuf,
}

// parseFormat builds the codec; each problem is reported at the key it is about.
func parseFormat(val any) (any, error) {
	b, _ := val.(*Values)
	none := format.Codec(nil)
	if b == nil || !b.OK("type") {
		return none, nil
	}
	typ := b.String("type")
	for name, owner := range formatOwners {
		if owner != typ && b.Has(name) {
			b.Fail(name, "is a setting of the %s format, not of %s", owner, typ)
		}
	}
	switch typ {
	case format.NameXML:
		return format.XML{Arrays: b.Strings("xml_arrays")}, nil
	case format.NameAvro:
		return parseAvro(b)
	case format.NameProtobuf:
		return parseProtobuf(b)
	}
	return format.JSON{}, nil
}

func parseAvro(b *Values) (any, error) {
	none := format.Codec(nil)
	var o format.AvroOptions
	switch {
	case b.Has("schema") && b.Has("schema_file"):
		b.Fail("schema_file", "set schema or schema_file, not both")
		return none, nil
	case b.Has("schema"):
		text, err := schemaText(b.Any("schema"))
		if err != nil {
			b.Fail("schema", "%v", err)
			return none, nil
		}
		o.Schema = text
	case b.Has("schema_file"):
		raw, err := os.ReadFile(b.path("schema_file"))
		if err != nil {
			b.Fail("schema_file", "%v", err)
			return none, nil
		}
		o.Schema = string(raw)
	}
	if r := b.Block("registry"); r != nil {
		if !r.OK("url") || !r.OK("username") || !r.OK("password") || !r.OK("subject") {
			return none, nil
		}
		reg, err := format.NewRegistry(r.String("url"), r.String("username"), r.String("password"))
		if err != nil {
			r.Fail("url", "%v", err)
			return none, nil
		}
		o.Registry, o.Subject = reg, r.String("subject")
	} else if o.Schema == "" {
		b.Missing("schema", "the avro format needs a schema (schema or schema_file), or a registry")
		return none, nil
	}
	c, err := format.NewAvro(o)
	if err != nil {
		key := "schema"
		if b.Has("schema_file") {
			key = "schema_file"
		}
		b.Fail(key, "%v", err)
		return none, nil
	}
	return format.Codec(c), nil
}

func parseProtobuf(b *Values) (any, error) {
	none := format.Codec(nil)
	b.Missing("descriptor_set", "the protobuf format needs a descriptor set")
	b.Missing("message", "the protobuf format needs the message type's name")
	if !b.Has("descriptor_set") || !b.Has("message") || !b.OK("descriptor_set") || !b.OK("message") {
		return none, nil
	}
	raw, err := os.ReadFile(b.path("descriptor_set"))
	if err != nil {
		b.Fail("descriptor_set", "%v", err)
		return none, nil
	}
	c, err := format.NewProtobuf(raw, b.String("message"))
	if err != nil {
		key := "descriptor_set"
		if _, ok := errors.AsType[*format.MessageNameError](err); ok {
			key = "message"
		}
		b.Fail(key, "%v", err)
		return none, nil
	}
	return format.Codec(c), nil
}

// schemaText is an inline Avro schema's JSON text: a string is the text; a block, a
// list or a bare name ("string") is the schema itself.
func schemaText(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	plain, err := plainValue(v)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(plain)
	return string(b), err
}

// plainValue turns a configuration value into what encoding/json writes.
func plainValue(v any) (any, error) {
	switch x := v.(type) {
	case config.Options:
		m := make(map[string]any, len(x.Entries))
		for _, e := range x.Entries {
			p, err := plainValue(e.Value)
			if err != nil {
				return nil, err
			}
			m[e.Key] = p
		}
		return m, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := plainValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case nil, bool, string, int64, float64, int:
		return x, nil
	}
	return nil, fmt.Errorf("expected a schema (a block or its JSON text), found %T", v)
}
