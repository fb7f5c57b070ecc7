package transform

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// peerMapping is the mapping of the peer benchmark (bench/peer).
func peerMapping() map[string]any {
	return map[string]any{"id": "$.orderId", "email": "$.customerEmail", "item_count": "=len(orderItems)", "total": "$.orderTotal"}
}

// projectionTemplates are templates of every kind of projection, for the tests below.
func projectionTemplates() []any {
	return []any{
		peerMapping(),
		seedMapping(),
		map[string]any{"n": "=len(items) + len(tags)", "first": "$.items[0]", "x": "=total * 2", "lit": []any{"$.a.b", int64(1)}},
		map[string]any{"n": "=len(items)", "skus": "$.items[*].sku"}, // items read, not only counted
		map[string]any{"all": "$"},
		map[string]any{"deep": "$..sku"},
		map[string]any{"env": "=len($env)"},
		"=len(a) > 1 ? a : b",
	}
}

func TestTemplateProjection(t *testing.T) {
	want := []projection{
		{"orderId": false, "customerEmail": false, "orderItems": true, "orderTotal": false},
		{"orderId": false, "customerId": false, "customerEmail": false, "orderItems": false, "orderTotal": false},
		{"items": false, "tags": true, "total": false, "a": false}, // items is read by $.items[0]
		{"items": false},
		nil, nil, nil,
		{"a": false, "b": false},
	}
	for i, tmpl := range projectionTemplates() {
		c, err := CompileTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want[i], c.reads); diff != "" {
			t.Errorf("template %d (%v): projection (-want +got):\n%s", i, tmpl, diff)
		}
	}
}

// checkDecodeFor checks that DecodeFor fails as Decode does, and that Apply gives the
// same output and errors from either tree.
func checkDecodeFor(t *testing.T, tmpls []*Template, in []byte) {
	t.Helper()
	full, fullErr := Decode(in)
	for i, tmpl := range tmpls {
		doc, err := tmpl.DecodeFor(in)
		if fmt.Sprint(err) != fmt.Sprint(fullErr) {
			t.Fatalf("template %d: DecodeFor(%q) error %v; Decode: %v", i, in, err, fullErr)
		}
		if err != nil {
			continue
		}
		got, gotErr := tmpl.Apply(doc)
		want, wantErr := tmpl.Apply(full)
		g, _ := Encode(got)
		w, _ := Encode(want)
		if string(g) != string(w) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("template %d over %q: Apply = %s, %v; over Decode's tree: %s, %v", i, in, g, gotErr, w, wantErr)
		}
	}
}

func compileProjectionTemplates(t testing.TB) []*Template {
	var out []*Template
	for _, tmpl := range projectionTemplates() {
		c, err := CompileTemplate(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// decodeForCases are messages for TestDecodeFor and seeds of FuzzDecodeFor: valid ones,
// and errors in members the templates skip, read and count.
var decodeForCases = []string{
	`{"orderId": "o-1", "customerEmail": "a@b", "orderItems": [{"sku": "s", "price": 1.5}, 2, [], {}], "orderTotal": 1000.00, "x": {"y": [1, "z"]}}`,
	`{"orderItems": [], "items": [1, 2], "tags": [], "total": 2, "a": {"b": "c"}}`,
	`{"items": 5, "tags": "héllo", "total": 1}`,
	`{"items": {"a": 1, "a": 2}, "tags": [null], "total": 1}`,
	`{"orderItems": [1, 2], "orderItems": 7}`,
	`{"skipped": [1, 2,], "orderId": 1}`,
	`{"skipped": "bad \x01 char"}`,
	`{"skipped": "bad \q escape"}`,
	`{"skipped": "bad \u12G4 escape"}`,
	`{"skipped": "\ud800\udc00 \ud800 \udc00 \ud800\u0041 \xff"}`,
	`{"skipped": "unterminated`,
	`{"skipped": 01}`, `{"skipped": 1.}`, `{"skipped": 1e}`, `{"skipped": -}`, `{"skipped": tru}`, `{"skipped": nul}`,
	`{"skipped": {"a" 1}}`, `{"skipped": {"a": 1 "b": 2}}`, `{"skipped": {1: 2}}`, `{"skipped": [1 2]}`, `{"skipped": [`,
	`{"orderItems": [1 2]}`, `{"orderItems": [{"a": 01}]}`, `{"items": [{"a": "\x00"}]}`,
	`{"orderId": 1} x`, `{"orderId": 1,}`, `{"orderId" 1}`, `{`, `{"`, `{"a":`, ` `, ``,
	`[1, 2]`, `"s"`, `5`, `null`, `{}`, ` { "orderId" : "x" , "orderTotal" : -0.5e-3 } `,
	`{"skipped": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	`{"orderItems": ` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	`{"skipped": ` + strings.Repeat(`{"a":`, 10001) + `1` + strings.Repeat("}", 10001) + `}`,
	`{"skipped": ` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `, "orderId": 2}`,
}

func TestDecodeFor(t *testing.T) {
	tmpls := compileProjectionTemplates(t)
	for _, in := range decodeForCases {
		checkDecodeFor(t, tmpls, []byte(in))
	}
}

func FuzzDecodeFor(f *testing.F) {
	for _, in := range decodeForCases {
		f.Add([]byte(in))
	}
	f.Add(orderJSON(f))
	tmpls := compileProjectionTemplates(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecodeFor(t, tmpls, in)
	})
}

func BenchmarkDecodeForPeer(b *testing.B) {
	tmpl, err := CompileTemplate(peerMapping())
	if err != nil {
		b.Fatal(err)
	}
	msg := orderJSON(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tmpl.DecodeFor(msg); err != nil {
			b.Fatal(err)
		}
	}
}
