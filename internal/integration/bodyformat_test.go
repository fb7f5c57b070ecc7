package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/format/formattest"
)

const orderSchema = `{"type": "record", "name": "Order", "fields": [
	{"name": "id", "type": "long"},
	{"name": "note", "type": ["null", "string"], "default": null}]}`

// writeFile writes content into name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// codecUpstream is an API that speaks codec: it decodes each request body with it,
// answers what answer makes of the decoded tree, encoded with it, as contentType
// (/garbage answers bytes that are not a message), and records what it decoded.
func codecUpstream(t *testing.T, codec format.Codec, contentType string, answer func(any) any) (*upstream, chan any) {
	decoded := make(chan any, 10)
	srv := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		raw, _ := io.ReadAll(r.Body)
		tree, err := codec.Decode(raw)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		decoded <- tree
		out, err := codec.Encode(answer(tree))
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/garbage" {
			out = []byte{0xff, 0xff, 0xff}
		}
		w.Header().Set("Content-Type", contentType)
		w.Write(out)
	})
	return srv, decoded
}

// TestAvroBodies: a body_type: avro operation sends its body fields as one Avro record
// of the declared schema (Content-Type and Accept application/avro), and the Avro
// answer reaches the caller as JSON that `returns` accepts; a body the schema cannot
// carry is refused as invalid parameters, and nothing is sent.
func TestAvroBodies(t *testing.T) {
	codec, err := format.NewAvro(format.AvroOptions{Schema: orderSchema})
	if err != nil {
		t.Fatal(err)
	}
	srv, decoded := codecUpstream(t, codec, "avro/binary", func(v any) any {
		o := v.(map[string]any)
		return map[string]any{"id": o["id"], "note": "placed: " + o["note"].(string)}
	})
	schemaFile := writeFile(t, t.TempDir(), "order.avsc", orderSchema)
	h := newHarness(t, `integration Shop {
    base_url: "UPSTREAM"
    operation place {
        method: POST
        path: "/orders"
        body_type: avro
        format: { schema_file: "`+schemaFile+`" }
        body: { id: integer, required, note: string }
        returns: { id: integer, note: string }
    }
    operation place_inline {
        method: POST
        path: "/orders"
        body_type: avro
        format: { type: avro, schema: { type: record, name: Order, fields: [{ name: id, type: long }, { name: note, type: ["null", "string"], default: null }] } }
        body: { id: json, note: string }
    }
}`, srv.URL, nil)
	res := h.mustCall(t, "Shop", "place", map[string]any{"id": 7, "note": "rush"})
	if got := <-decoded; !jsonEqual(t, got, `{"id": 7, "note": "rush"}`) {
		t.Errorf("upstream decoded %v", got)
	}
	sent := srv.last()
	if sent.Header.Get("Content-Type") != "application/avro" || sent.Header.Get("Accept") != "application/avro" {
		t.Errorf("request Content-Type %q, Accept %q, want application/avro", sent.Header.Get("Content-Type"), sent.Header.Get("Accept"))
	}
	if string(res.Body) != `{"id":7,"note":"placed: rush"}` || res.Header.Get("Content-Type") != "application/json" || len(res.ContractMismatches) > 0 {
		t.Errorf("answer %s (%s, mismatches %v)", res.Body, res.Header.Get("Content-Type"), res.ContractMismatches)
	}
	if res := h.mustCall(t, "Shop", "place_inline", map[string]any{"id": 8, "note": "x"}); string(res.Body) != `{"id":8,"note":"placed: x"}` {
		t.Errorf("inline schema: answer %s", res.Body)
	}
	<-decoded
	// A string where the schema has a long: refused before anything is sent.
	before := len(srv.all())
	_, err = h.rt.Call(context.Background(), "Shop", "place_inline", map[string]any{"id": "seven"}, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalidParams || len(e.Params) != 1 || !strings.HasPrefix(e.Params[0].Detail, "cannot encode the body as Avro: ") {
		t.Errorf("a body the schema cannot carry: %v", err)
	}
	if len(srv.all()) != before {
		t.Error("a body the schema cannot carry was sent")
	}
}

// TestProtobufBodies: a body_type: protobuf operation sends its body fields as one
// message (application/x-protobuf) and decodes the protobuf answer into its JSON form;
// an answer that is not the message is left as sent with a contract problem; a member
// the message does not declare fails the call as invalid parameters.
func TestProtobufBodies(t *testing.T) {
	set := formattest.DescriptorSetFile(t, "../format/testdata/order.proto")
	raw, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := format.NewProtobuf(raw, "shop.Order")
	if err != nil {
		t.Fatal(err)
	}
	srv, decoded := codecUpstream(t, codec, "application/protobuf", func(v any) any {
		o := v.(map[string]any)
		return map[string]any{"id": o["id"], "customer": o["customer"], "status": "STATUS_PAID", "lines": o["lines"]}
	})
	h := newHarness(t, `integration Shop {
    base_url: "UPSTREAM"
    operation track {
        method: POST
        path: "/track"
        body_type: protobuf
        format: { descriptor_set: "`+set+`", message: "shop.Order" }
        body: { id: integer, required, customer: string, lines: json, color: string }
        returns: { id: integer, customer: string, status: string }
    }
    operation garbage {
        method: POST
        path: "/garbage"
        body_type: protobuf
        format: { type: protobuf, descriptor_set: "`+set+`", message: "shop.Order" }
        body: { id: integer }
    }
}`, srv.URL, nil)
	res := h.mustCall(t, "Shop", "track", map[string]any{"id": 12, "customer": "c-1", "lines": []any{map[string]any{"sku": "a", "qty": 2}}})
	if got := (<-decoded).(map[string]any); !jsonEqual(t, got["lines"], `[{"sku": "a", "qty": 2, "cents": 0}]`) || !jsonEqual(t, got["id"], `12`) {
		t.Errorf("upstream decoded %v", got)
	}
	if ct := srv.last().Header.Get("Content-Type"); ct != "application/x-protobuf" {
		t.Errorf("request Content-Type %q", ct)
	}
	var answer map[string]any
	if err := json.Unmarshal(res.Body, &answer); err != nil || answer["id"] != 12.0 || answer["customer"] != "c-1" || answer["status"] != "STATUS_PAID" || len(res.ContractMismatches) > 0 {
		t.Errorf("answer %s (%v, mismatches %v)", res.Body, err, res.ContractMismatches)
	}
	res = h.mustCall(t, "Shop", "garbage", map[string]any{"id": 1})
	<-decoded
	if res.Header.Get("Content-Type") != "application/protobuf" || len(res.ContractMismatches) != 1 || !strings.HasPrefix(res.ContractMismatches[0], "body is declared as Protobuf and is not") {
		t.Errorf("garbage answer: %q %v", res.Body, res.ContractMismatches)
	}
	_, err = h.rt.Call(context.Background(), "Shop", "track", map[string]any{"id": 1, "color": "red"}, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalidParams || len(e.Params) != 1 || !strings.HasPrefix(e.Params[0].Detail, "cannot encode the body as Protobuf: ") {
		t.Errorf("a member the message does not declare: %v", err)
	}
}

// TestOperationFormatFiles: CheckFormats (junction validate) reads an operation's
// files relative to the configuration file and reports each problem at its key; the
// runtime refuses calls of an integration whose codec cannot be built.
func TestOperationFormatFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "order.avsc", orderSchema)
	writeFile(t, dir, "bad.avsc", `{"type": "record", "name": "Order"}`)
	writeFile(t, dir, "shop.binpb", string(formattest.DescriptorSet(t, "../format/testdata/order.proto")))
	src := `integration Shop {
    base_url: "http://127.0.0.1:1"
    operation good { method: POST, path: "/a", body_type: avro, format: { schema_file: "order.avsc" }, body: { id: integer } }
    operation missing { method: POST, path: "/a", body_type: avro, format: { schema_file: "nowhere.avsc" } }
    operation bad { method: POST, path: "/a", body_type: avro, format: { schema_file: "bad.avsc" } }
    operation proto { method: POST, path: "/a", body_type: protobuf, format: { descriptor_set: "shop.binpb", message: "shop.Nothing" } }
    operation unnamed { method: POST, path: "/a", body_type: protobuf, format: { descriptor_set: "shop.binpb" } }
    operation typo { method: POST, path: "/a", body_type: avro, format: { schema_fil: "order.avsc" } }
}
`
	path := writeFile(t, dir, "shop.cai", src)
	cfg, diags := config.Decode(path, []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	errs := CheckFormats(cfg.Integrations, func(string) (string, bool) { return "", false })
	var got []string
	for _, err := range errs {
		oe, ok := errors.AsType[*config.OptionError](err)
		if !ok {
			t.Fatalf("%v is not an OptionError", err)
		}
		got = append(got, oe.Pos.String()+" "+oe.Msg)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		path + ":4:",   // missing
		"nowhere.avsc", // names the file
		path + ":5:",   // bad schema
		path + ":6:",   // the message the set lacks
		"shop.Nothing", // named
		path + ":7:",   // no message
		path + ":8:",   // unknown key
	} {
		if !strings.Contains(all, want) {
			t.Errorf("CheckFormats found\n%s\nwant %q among them", all, want)
		}
	}
	if strings.Contains(all, path+":3:") {
		t.Errorf("the good operation (its schema relative to the configuration file) was reported:\n%s", all)
	}
	if len(errs) != 5 {
		t.Errorf("%d problems, want 5:\n%s", len(errs), all)
	}

	// The runtime: the integration is misconfigured, and says why.
	h := newHarness(t, `integration Shop {
    base_url: "http://127.0.0.1:1"
    operation missing { method: POST, path: "/a", body_type: avro, format: { schema_file: "`+filepath.Join(dir, "nowhere.avsc")+`" } }
}`, "", nil)
	_, err := h.rt.Call(context.Background(), "Shop", "missing", nil, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindMisconfigured || !strings.Contains(e.Detail, "nowhere.avsc") {
		t.Errorf("a call of an integration whose schema file is missing: %v", err)
	}
}

// jsonEqual says whether v, as JSON, is the JSON want.
func jsonEqual(t *testing.T, v any, want string) bool {
	t.Helper()
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	ga, _ := json.Marshal(a)
	gb, _ := json.Marshal(b)
	return string(ga) == string(gb)
}

// TestFormatFilesInFingerprint: a schema rewritten in place changes the integration's
// fingerprint, so a reload builds the new codec rather than adopting the old state.
func TestFormatFilesInFingerprint(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "order.avsc", orderSchema)
	src := `integration Shop {
    base_url: "https://shop.example"
    operation place { method: POST, path: "/a", body_type: avro, format: { schema_file: "order.avsc" }, body: { id: integer } }
}`
	cfg, diags := config.Decode(writeFile(t, dir, "shop.cai", src), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	lookup := func(string) (string, bool) { return "", false }
	before, _ := fingerprint(cfg.Integrations[0], lookup)
	writeFile(t, dir, "order.avsc", strings.Replace(orderSchema, `"long"`, `"int"`, 1))
	if after, _ := fingerprint(cfg.Integrations[0], lookup); after == before {
		t.Error("the fingerprint did not change with the schema file")
	}
}
