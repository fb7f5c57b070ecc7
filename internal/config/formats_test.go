package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// formatsColon uses the message formats (a connector's and a sink's `format` option,
// an operation's `body_type: xml`) in the key: value dialect; the other dialects below
// say the same.
const formatsColon = `
connector placed {
    type: kafka
    brokers: ["localhost:9092"]
    topic: "placed"
    group: "g"
    format: { type: avro, registry: { url: "http://registry:8081", username: "u", password: env(REGISTRY_PASSWORD) } }
}
connector orders {
    type: rabbitmq
    url: "amqp://guest:guest@localhost:5672/"
    format: { type: protobuf, descriptor_set: "shop.binpb", message: "shop.Order" }
}
flow placed-orders {
    source: placed
    step map { transform: { id: "$.id" } }
    sink orders { connector: orders }
    sink archive { connector: orders, routing_key: "archive", format: { type: xml, xml_arrays: ["line"] } }
}
integration S3 {
    base_url: "https://s3.amazonaws.com"
    operation delete_objects {
        method: POST
        path: "/{bucket}"
        body_type: xml
        body: { Delete: json, required }
        returns: { DeleteResult: { Deleted: list({ Key: string }) } }
    }
}
`

const formatsColonless = `
connector placed {
    type kafka
    brokers ["localhost:9092"]
    topic "placed"
    group "g"
    format {
        type avro
        registry {
            url "http://registry:8081"
            username "u"
            password env(REGISTRY_PASSWORD)
        }
    }
}
connector orders {
    type rabbitmq
    url "amqp://guest:guest@localhost:5672/"
    format {
        type protobuf
        descriptor_set "shop.binpb"
        message "shop.Order"
    }
}
flow placed-orders {
    source placed
    step map { transform { id "$.id" } }
    sink orders { connector orders }
    sink archive {
        connector orders
        routing_key "archive"
        format {
            type xml
            xml_arrays ["line"]
        }
    }
}
integration S3 {
    base_url "https://s3.amazonaws.com"
    operation delete_objects {
        method POST
        path "/{bucket}"
        body_type xml
        body { Delete: json, required }
        returns { DeleteResult { Deleted list({ Key string }) } }
    }
}
`

const formatsYAML = `
connectors:
  placed:
    type: kafka
    brokers: ["localhost:9092"]
    topic: placed
    group: g
    format:
      type: avro
      registry: {url: "http://registry:8081", username: u, password: env(REGISTRY_PASSWORD)}
  orders:
    type: rabbitmq
    url: amqp://guest:guest@localhost:5672/
    format: {type: protobuf, descriptor_set: shop.binpb, message: shop.Order}
flows:
  placed-orders:
    source: placed
    steps:
      map:
        transform: {id: $.id}
    sinks:
      orders: {connector: orders}
      archive: {connector: orders, routing_key: archive, format: {type: xml, xml_arrays: [line]}}
integrations:
  S3:
    base_url: https://s3.amazonaws.com
    operations:
      delete_objects:
        method: POST
        path: /{bucket}
        body_type: xml
        body:
          Delete: json, required
        returns:
          DeleteResult:
            Deleted: "list({Key: string})"
`

func TestFormatsInEveryDialect(t *testing.T) {
	want := decodeOK(t, formatsColon)
	if op := want.Integration("S3").Operations[0]; op.BodyType != "xml" {
		t.Fatalf("body_type = %q, want xml", op.BodyType)
	}
	if f := want.Connectors[0].Options; len(f.Entries) != 4 || f.Entries[3].Key != "format" {
		t.Fatalf("placed's options %+v, want format among them", f.Entries)
	}
	for name, src := range map[string]string{"colon-less": formatsColonless, "YAML": formatsYAML} {
		file := "test.cai"
		if name == "YAML" {
			file = "test.yaml"
		}
		got, diags := Decode(file, []byte(src))
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags.Err())
		}
		if diff := cmp.Diff(want, got, ignorePos); diff != "" {
			t.Errorf("%s decodes differently from the key: value dialect (-colon +%s):\n%s", name, name, diff)
		}
	}
}

func TestXMLBodyErrors(t *testing.T) {
	for _, tt := range []struct{ name, file, src, want string }{
		{"two body fields", "test.cai", `integration S {
    operation put {
        method: PUT
        path: "/x"
        body_type: xml
        body: { Delete: json, Extra: string }
    }
}`, "test.cai:6:31: operation put: a body_type: xml body is one XML document, so it takes one field, its root element (Delete); found 2"},
		{"unknown body type", "test.yaml", `integrations:
  S:
    operations:
      put: {method: PUT, path: /x, body_type: csv}
`, "test.yaml:4:47: body_type: expected json, form, xml, binary, avro or protobuf"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Decode(tt.file, []byte(tt.src))
			if err := diags.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("errors %v, want %q", err, tt.want)
			}
		})
	}
}

// opFormatsColon declares Avro and Protobuf operation bodies in the key: value dialect;
// the colon-less dialect and YAML below say the same.
const opFormatsColon = `
integration Shop {
    base_url: "https://shop.example"
    operation place {
        method: POST
        path: "/orders"
        body_type: avro
        format: { schema_file: "schemas/order.avsc" }
        body: { id: integer, required, note: string }
        returns: { id: integer, status: string }
    }
    operation place_inline {
        method: POST
        path: "/orders"
        body_type: avro
        format: { type: avro, schema: { type: record, name: Order, fields: [{ name: id, type: long }] } }
        body: { id: integer, required }
    }
    operation track {
        method: POST
        path: "/track"
        body_type: protobuf
        format: { descriptor_set: "proto/shop.binpb", message: "shop.Order" }
        body: { order_id: string, required }
        returns: { order_id: string }
    }
}
`

const opFormatsColonless = `
integration Shop {
    base_url "https://shop.example"
    operation place {
        method POST
        path "/orders"
        body_type avro
        format { schema_file "schemas/order.avsc" }
        body { id: integer, required, note: string }
        returns { id integer, status string }
    }
    operation place_inline {
        method POST
        path "/orders"
        body_type avro
        format {
            type avro
            schema { type record, name Order, fields [{ name id, type long }] }
        }
        body { id: integer, required }
    }
    operation track {
        method POST
        path "/track"
        body_type protobuf
        format {
            descriptor_set "proto/shop.binpb"
            message "shop.Order"
        }
        body { order_id: string, required }
        returns { order_id string }
    }
}
`

const opFormatsYAML = `
integrations:
  Shop:
    base_url: https://shop.example
    operations:
      place:
        method: POST
        path: /orders
        body_type: avro
        format: {schema_file: schemas/order.avsc}
        body:
          id: integer, required
          note: string
        returns: {id: integer, status: string}
      place_inline:
        method: POST
        path: /orders
        body_type: avro
        format:
          type: avro
          schema: {type: record, name: Order, fields: [{name: id, type: long}]}
        body:
          id: integer, required
      track:
        method: POST
        path: /track
        body_type: protobuf
        format: {descriptor_set: proto/shop.binpb, message: shop.Order}
        body:
          order_id: string, required
        returns: {order_id: string}
`

func TestOperationFormatsInEveryDialect(t *testing.T) {
	want := decodeOK(t, opFormatsColon)
	ops := want.Integration("Shop").Operations
	if ops[0].BodyType != BodyTypeAvro || ops[0].Format == nil || ops[2].BodyType != BodyTypeProtobuf {
		t.Fatalf("operations %+v %+v, want avro and protobuf with their format", ops[0], ops[2])
	}
	if f, ok := ops[0].Format.Value.(Options); !ok || len(f.Entries) != 1 || f.Entries[0].Key != "schema_file" || f.Entries[0].Value != "schemas/order.avsc" {
		t.Fatalf("place's format %+v, want the schema_file as written", ops[0].Format.Value)
	}
	for name, src := range map[string]string{"colon-less": opFormatsColonless, "YAML": opFormatsYAML} {
		file := "test.cai"
		if name == "YAML" {
			file = "test.yaml"
		}
		got, diags := Decode(file, []byte(src))
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags.Err())
		}
		if diff := cmp.Diff(want, got, ignorePos); diff != "" {
			t.Errorf("%s decodes differently from the key: value dialect (-colon +%s):\n%s", name, name, diff)
		}
	}
}

func TestOperationFormatErrors(t *testing.T) {
	for _, tt := range []struct{ name, file, src, want string }{
		{"avro without format", "test.cai", `integration S {
    operation put {
        method: PUT
        path: "/x"
        body_type: avro
        body: { id: integer }
    }
}`, `test.cai:5:9: operation put: body_type: avro needs the Avro schema: format: { schema_file: "order.avsc" }`},
		{"protobuf without format", "test.yaml", `integrations:
  S:
    operations:
      put: {method: PUT, path: /x, body_type: protobuf}
`, `test.yaml:4:36: operation put: body_type: protobuf needs the message type`},
		{"format of a json body", "test.cai", `integration S {
    operation put {
        method: PUT
        path: "/x"
        format: { schema_file: "a.avsc" }
    }
}`, "test.cai:5:9: operation put: format declares the codec of body_type: avro or protobuf; this operation's body_type is json"},
		{"type differs", "test.cai", `integration S {
    operation put {
        method: PUT
        path: "/x"
        body_type: protobuf
        format: { type: avro, schema_file: "a.avsc" }
    }
}`, "test.cai:6:19: operation put: format: type: avro differs from body_type: protobuf"},
		{"graphql", "test.cai", `integration G {
    type: graphql
    base_url: "https://g.example/graphql"
    operation q {
        query: "{ a }"
        body_type: avro
        format: { schema_file: "a.avsc" }
    }
}`, "test.cai:6:9: operation q: a GraphQL document is sent as JSON; body_type: avro does not apply"},
		{"registry", "test.yaml", `integrations:
  S:
    operations:
      put:
        method: PUT
        path: /x
        body_type: avro
        format:
          registry: {url: "http://registry:8081"}
`, "test.yaml:9:11: operation put: format: registry: an operation's body is plain Avro"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Decode(tt.file, []byte(tt.src))
			if err := diags.Err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("errors %v, want %q", err, tt.want)
			}
		})
	}
}
