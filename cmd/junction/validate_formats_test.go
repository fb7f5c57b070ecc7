package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateFormats: `junction validate` reports a bad Avro schema or protobuf message
// name at the key that names it, whether the format is on the connector or on a flow's
// use of it.
func TestValidateFormats(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "formats.cai")
	writeFile(t, filepath.Join(dir, "order.avsc"), `{"type": "record", "name": "Order", "fields": [{"name": "id", "type": "lng"}]}`)
	writeFile(t, cfg, `connector placed { type: kafka, brokers: ["127.0.0.1:9092"], topic: "placed", group: "g", format: { type: avro, schema_file: "order.avsc" } }
connector out { type: kafka, brokers: ["127.0.0.1:9092"], topic: "out" }
flow f {
    source: placed
    sink s { connector: out, format: { type: protobuf, descriptor_set: "missing.binpb", message: "shop.Order" } }
}
`)
	out, _, code := run(t, dir, nil, "validate", cfg)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		cfg + `:1:113: kafka connector placed: format: schema_file: invalid Avro schema: avro: unknown type: lng`,
		cfg + `:5:56: kafka connector out: format: descriptor_set: open ` + filepath.Join(dir, "missing.binpb") + `: no such file or directory`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
