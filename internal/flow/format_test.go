package flow_test

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/junctionhq/junction/internal/fakeapi"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/transform"
)

const orderAvroSchema = `{"type": "record", "name": "Envelope", "fields": [{"name": "order", "type": {"type": "record", "name": "Order", "fields": [
  {"name": "id", "type": "string"}, {"name": "items", "type": {"type": "array", "items": "string"}}, {"name": "total", "type": "double"}]}}]}`

// TestFormats: a source's messages are decoded with its format and each sink's are
// encoded with its own; a message that does not decode is dead-lettered at once while
// the others go through.
func TestFormats(t *testing.T) {
	h := newHarness(t, `
flow orders {
    source: in { format: { type: xml, xml_arrays: ["item"] } }
    step map { transform: { order: { id: "$.order['@id']", items: "$.order.items.item[*]", total: "=float(order.total)" } } }
    sink xml { connector: a, format: xml }
    sink avro { connector: b, format: { type: avro, schema: `+strconv.Quote(orderAvroSchema)+` } }
    on_error: retry 3 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}`)
	h.put(`<order id="o1"><items><item>x</item></items><total>12.5</total></order>`, `<order id="o2"`,
		`<order id="o3"><items><item>y</item><item>z</item></items><total>7</total></order>`)
	h.settled(3)
	h.stop()

	xml := bodies(h.sinks["a"].Received())
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<order><id>o1</id><items>x</items><total>12.5</total></order>` + "\n"
	if len(xml) != 2 || xml[0] != want && xml[1] != want {
		t.Errorf("xml sink got %q, want 2 messages, one %q", xml, want)
	}
	avro, err := format.NewAvro(format.AvroOptions{Schema: orderAvroSchema})
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	for _, m := range h.sinks["b"].Received() {
		tree, err := avro.Decode(m.Body)
		if err != nil {
			t.Fatalf("the avro sink's message does not decode: %v", err)
		}
		got = append(got, tree)
	}
	if diff := cmp.Diff([]any{tree(t, `{"order":{"id":"o1","items":["x"],"total":12.5}}`), tree(t, `{"order":{"id":"o3","items":["y","z"],"total":7}}`)}, got, cmpopts.SortSlices(func(a, b any) bool {
		return fmt.Sprint(a) < fmt.Sprint(b)
	})); diff != "" {
		t.Errorf("avro sink (-want +got):\n%s", diff)
	}
	dls := h.dlq.all()
	if len(dls) != 1 || dls[0].Step != "decode" || dls[0].Attempts != 1 || string(dls[0].Body) != `<order id="o2"` ||
		!strings.HasPrefix(dls[0].Error, "the message is not XML: invalid XML:") {
		t.Errorf("dead letters %+v, want the undecodable message, once tried, with its XML error", dls)
	}
}

// TestFormatRegistryOutageRetried: a schema registry that fails is retried with the
// flow's policy (the message goes through once it answers); a message whose schema id
// the registry does not know is dead-lettered without retries.
func TestFormatRegistryOutageRetried(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{})
	id, err := reg.Register("orders-value", orderAvroSchema)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `
flow orders {
    source: in { format: { type: avro, registry: { url: "`+reg.URL()+`" } } }
    sink out { connector: a }
    on_error: retry 5 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}`)
	enc, err := format.NewAvro(format.AvroOptions{Schema: orderAvroSchema})
	if err != nil {
		t.Fatal(err)
	}
	body, err := enc.Encode(tree(t, `{"order":{"id":"o1","items":[],"total":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	wire := func(id int) []byte { return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...) }
	reg.FailNext(2, http.StatusServiceUnavailable)
	h.put(string(wire(id)))
	h.settled(1)
	h.put(string(wire(99)))
	h.settled(2)
	h.stop()
	if got := bodies(h.sinks["a"].Received()); len(got) != 1 || got[0] != `{"order":{"id":"o1","items":[],"total":1}}` {
		t.Errorf("sink got %v", got)
	}
	dls := h.dlq.all()
	if len(dls) != 1 || dls[0].Attempts != 1 || !strings.Contains(dls[0].Error, "schema 99: schema registry answered 404") {
		t.Errorf("dead letters %+v, want the message of the unknown schema, tried once", dls)
	}
	if n := len(reg.RequestsTo(http.MethodGet, "/schemas/ids/1")); n != 3 {
		t.Errorf("%d fetches of schema 1, want 3 (two failed, then kept)", n)
	}
}

func tree(t *testing.T, s string) any {
	t.Helper()
	v, err := transform.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFormatReaderSchema: a source with a registry and a schema reads the messages of
// every writer version in the schema's shape; a writer schema it cannot read
// dead-letters its messages at once, saying why.
func TestFormatReaderSchema(t *testing.T) {
	reg := fakeapi.NewSchemaRegistry(t, fakeapi.SchemaRegistryConfig{})
	const reader = `{"type": "record", "name": "Reading", "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"}, {"name": "unit", "type": "string", "default": "C"}]}`
	client, err := format.NewRegistry(reg.URL(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	message := func(schema, doc string) string {
		enc, err := format.NewAvro(format.AvroOptions{Schema: schema, Registry: client, Subject: "readings-value"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := enc.Encode(tree(t, doc))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	v1 := message(`{"type": "record", "name": "Reading", "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "float"}]}`,
		`{"sensor": "s1", "value": 21.5}`)
	v2 := message(`{"type": "record", "name": "Reading", "fields": [{"name": "site", "type": "string"}, {"name": "sensor", "type": "string"}, {"name": "value", "type": "double"}, {"name": "unit", "type": "string"}]}`,
		`{"site": "x", "sensor": "s2", "value": 70.25, "unit": "F"}`)
	bad := message(`{"type": "record", "name": "Reading", "fields": [{"name": "value", "type": "double"}]}`, `{"value": 1}`)

	h := newHarness(t, `
flow readings {
    source: in { format: { type: avro, registry: { url: "`+reg.URL()+`" }, schema: `+strconv.Quote(reader)+` } }
    sink out { connector: a }
    on_error: retry 3 times with exponential_backoff(1ms, max 5ms) then dead_letter("dl")
}`)
	h.put(v1, bad, v2)
	h.settled(3)
	h.stop()

	var got []any
	for _, b := range bodies(h.sinks["a"].Received()) {
		got = append(got, tree(t, b))
	}
	want := []any{tree(t, `{"sensor": "s1", "value": 21.5, "unit": "C"}`), tree(t, `{"sensor": "s2", "value": 70.25, "unit": "F"}`)}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b any) bool { return fmt.Sprint(a) < fmt.Sprint(b) })); diff != "" {
		t.Errorf("sink (-want +got):\n%s", diff)
	}
	badID := binary.BigEndian.Uint32([]byte(bad)[1:5])
	wantErr := fmt.Sprintf("the message is not Avro: schema %d: the writer's record Reading cannot be read as the reader's record Reading: field sensor: not in the writer's record Reading, and the reader's gives no default", badID)
	if dls := h.dlq.all(); len(dls) != 1 || dls[0].Step != "decode" || dls[0].Attempts != 1 || dls[0].Error != wantErr {
		t.Errorf("dead letters %+v, want the message of the writer schema the reader cannot read, tried once: %s", dls, wantErr)
	}
}
