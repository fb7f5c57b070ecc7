package transform

import (
	"encoding/json"
	"fmt"
	"testing"
)

// checkEncodeLikeMarshal checks that Encode writes what json.Marshal writes, or fails
// as it does.
func checkEncodeLikeMarshal(t *testing.T, v any) {
	t.Helper()
	got, gotErr := Encode(v)
	want, wantErr := json.Marshal(v)
	if string(got) != string(want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Errorf("Encode(%#v) = %s, %v; json.Marshal: %s, %v", v, got, gotErr, want, wantErr)
	}
}

func TestEncodeLikeMarshal(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	deep := any("leaf")
	for range 1500 {
		deep = []any{deep}
	}
	for _, v := range []any{
		nil, true, false, "", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "\b\f\n\r\t\x00\x1f\x7f",
		"é ü 日本 😀", "\u2028 and \u2029", "invalid \xff\xfe utf-8 \xe2\x82", json.Number("0"), json.Number("-12.5e+3"),
		json.Number(""), json.Number("1."), json.Number("abc"), json.Number("01"), []any{}, []any(nil), map[string]any{},
		map[string]any(nil), []any{1, 2.5, "x"}, map[string]any{"z": 1, "a": nil, "é": []any{}, "<": "&", "": json.Number("7")},
		map[string]any{"a": map[string]any{"b": []any{json.Number("1"), json.Number("x")}}}, cyclic, deep, int64(3), 2.5,
		[]string{"a"}, map[string]any{"k": struct{ A int }{1}},
	} {
		checkEncodeLikeMarshal(t, v)
	}
}

// FuzzEncode encodes decoded documents (and their strings as member names too).
func FuzzEncode(f *testing.F) {
	for _, s := range []string{
		`{"a": [1, -2.5e+3, "x", true, false, null]}`, `"\ud83d\ude00\u00e9\n\u2028<>&"`, "\"\xff\"", `[]`, `{}`,
		`{"b":{"<":"\u0000"},"a":[{}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Add(orderJSON(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := Decode(in)
		if err != nil {
			return
		}
		checkEncodeLikeMarshal(t, v)
		if s, ok := v.(string); ok {
			checkEncodeLikeMarshal(t, map[string]any{s: s, "x" + s: []any{s}})
		}
		// hand-built trees may hold invalid UTF-8, which Decode replaces
		checkEncodeLikeMarshal(t, string(in))
	})
}

func BenchmarkEncode(b *testing.B) {
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
		if _, err := Encode(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeMarshal is the reference Encode is measured against.
func BenchmarkEncodeMarshal(b *testing.B) {
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
		if _, err := json.Marshal(doc); err != nil {
			b.Fatal(err)
		}
	}
}
