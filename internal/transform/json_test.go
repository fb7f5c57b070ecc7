package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mustDecode decodes JSON text written in a test.
func mustDecode(t testing.TB, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("Decode(%s): %v", s, err)
	}
	return v
}

// orderJSON is testdata/order.json: the sample order the seed's mapping reads.
func orderJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "order.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustEncode(t testing.TB, v any) string {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return string(b)
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    any
		wantErr string
	}{
		{name: "object", in: `{"a": [1, "x", true, false, null], "b": {}}`, want: map[string]any{"a": []any{json.Number("1"), "x", true, false, nil}, "b": map[string]any{}}},
		{name: "empty list is not nil", in: `[]`, want: []any{}},
		{name: "big integer stays exact", in: `12345678901234567890`, want: json.Number("12345678901234567890")},
		{name: "decimal stays exact", in: `1000.00`, want: json.Number("1000.00")},
		{name: "exponent", in: `-1.5E+7`, want: json.Number("-1.5E+7")},
		{name: "zero", in: `[0, -0, 0.0, 0e1]`, want: []any{json.Number("0"), json.Number("-0"), json.Number("0.0"), json.Number("0e1")}},
		{name: "surrounding white space", in: " \n\t\"s\"\r\n ", want: "s"},
		{name: "escapes", in: `"\"\\\/\b\f\n\r\t\u00e9\u20AC"`, want: "\"\\/\b\f\n\r\té€"},
		{name: "surrogate pair", in: `"\ud83d\ude00"`, want: "😀"},
		{name: "lone surrogate", in: `"a\ud83db"`, want: "a\ufffdb"},
		{name: "high surrogate then letter escape", in: `"\ud83d\u0041"`, want: "\ufffdA"},
		{name: "utf-8", in: `"grüße 😀"`, want: "grüße 😀"},
		{name: "invalid utf-8 is replaced", in: "\"a\xffb\"", want: "a\ufffdb"},
		{name: "duplicate key: last wins", in: `{"a": 1, "a": 2}`, want: map[string]any{"a": json.Number("2")}},
		{name: "empty", in: ``, wantErr: "invalid JSON: empty input"},
		{name: "only white space", in: "  \n", wantErr: "invalid JSON: empty input"},
		{name: "missing value", in: `{"a": }`, wantErr: "invalid JSON: unexpected character '}' at offset 6"},
		{name: "unterminated object", in: `{"a": 1`, wantErr: "invalid JSON: unexpected end of input"},
		{name: "unterminated string", in: `"abc`, wantErr: "invalid JSON: unexpected end of input"},
		{name: "trailing comma", in: `[1,]`, wantErr: "invalid JSON: unexpected character ']' at offset 3"},
		{name: "missing colon", in: `{"a" 1}`, wantErr: "invalid JSON: expected ':' after a member name, found '1' at offset 5"},
		{name: "unquoted key", in: `{a: 1}`, wantErr: "invalid JSON: expected a member name, found 'a' at offset 1"},
		{name: "single quotes", in: `{'a': 1}`, wantErr: "invalid JSON: expected a member name, found '\\'' at offset 1"},
		{name: "missing comma", in: `[1 2]`, wantErr: "invalid JSON: expected ',' or ']' in an array, found '2' at offset 3"},
		{name: "leading zero", in: `01`, wantErr: "invalid JSON: data after the value at offset 1"},
		{name: "bare minus", in: `-`, wantErr: "invalid JSON: unexpected end of input"},
		{name: "fraction without digits", in: `1.e5`, wantErr: "invalid JSON: expected a digit after '.', found 'e' at offset 2"},
		{name: "exponent without digits", in: `1e+`, wantErr: "invalid JSON: unexpected end of input"},
		{name: "plus sign", in: `+1`, wantErr: "invalid JSON: unexpected character '+' at offset 0"},
		{name: "control character in string", in: "\"a\nb\"", wantErr: `invalid JSON: control character '\n' at offset 2`},
		{name: "bad escape", in: `"\x"`, wantErr: "invalid JSON: invalid escape character 'x' at offset 2"},
		{name: "bad unicode escape", in: `"\u12g4"`, wantErr: "invalid JSON: invalid \\u escape at offset 1"},
		{name: "misspelt literal", in: `[tru]`, wantErr: "invalid JSON: unexpected character ']' at offset 4"},
		{name: "two values", in: `{} {}`, wantErr: "invalid JSON: data after the value at offset 3"},
		{name: "two numbers", in: `1 2`, wantErr: "invalid JSON: data after the value at offset 2"},
		{name: "garbage after value", in: `{"a":1}x`, wantErr: "invalid JSON: data after the value at offset 7"},
		{name: "too deep", in: strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), wantErr: "invalid JSON: nested deeper than 10000 at offset 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Decode(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			} else if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%q) (-want +got):\n%s", tt.in, diff)
			}
			// Whatever the input, Decode agrees with encoding/json.
			checkLikeEncodingJSON(t, []byte(tt.in))
		})
	}
}

func TestDecodeDoesNotKeepInput(t *testing.T) {
	in := []byte(`{"name": "ada", "n": 12, "list": ["x\u00e9"]}`)
	doc, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = ' '
	}
	if got, want := mustEncode(t, doc), `{"list":["xé"],"n":12,"name":"ada"}`; got != want {
		t.Errorf("after overwriting the input the tree reads %s, want %s", got, want)
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	deepest := strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth)
	if _, err := Decode([]byte(deepest)); err != nil {
		t.Errorf("Decode at the depth limit: %v", err)
	}
	checkLikeEncodingJSON(t, []byte(deepest))
	checkLikeEncodingJSON(t, []byte(strings.Repeat(`{"a":`, maxDepth+1)+"1"+strings.Repeat("}", maxDepth+1)))
}

// stdDecode is what Decode must agree with: encoding/json's Decoder with UseNumber,
// refusing anything after the value.
func stdDecode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if rest := bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, errors.New("data after the value")
	}
	return v, nil
}

func checkLikeEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	got, err := Decode(in)
	want, stdErr := stdDecode(in)
	if (err == nil) != (stdErr == nil) {
		t.Fatalf("Decode(%q) error = %v, encoding/json: %v", in, err, stdErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Decode(%q) differs from encoding/json (-std +Decode):\n%s", in, diff)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a": [1, -2.5e+3, "x", true, false, null]}`, `"\ud83d\ude00\u00e9\n"`, "\"\xff\"", `[]`, `{}`,
		`{"a":1}x`, `[1,]`, `01`, `"\ud800\u0041"`, `{"a" 1}`, ` 12345678901234567890 `,
	} {
		f.Add([]byte(s))
	}
	f.Add(orderJSON(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		checkLikeEncodingJSON(t, in)
	})
}

func TestEncodeKeepsNumbersExact(t *testing.T) {
	in := `{"amount":1000.00,"id":12345678901234567890,"rate":1e-9,"small":-0.10}`
	if got := mustEncode(t, mustDecode(t, in)); got != in {
		t.Errorf("round trip = %s, want %s", got, in)
	}
}

func TestFromConfig(t *testing.T) {
	type unsupported struct{}
	tests := []struct {
		name    string
		in      any
		want    any
		wantErr string
	}{
		{name: "int64", in: int64(-42), want: json.Number("-42")},
		{name: "int", in: 7, want: json.Number("7")},
		{name: "float64", in: 2.5, want: json.Number("2.5")},
		{name: "whole float64", in: 120.0, want: json.Number("120")},
		{name: "tiny float64", in: 1e-7, want: json.Number("1e-7")},
		{name: "huge float64", in: 1e21, want: json.Number("1e+21")},
		{name: "json.Number kept", in: json.Number("1.50"), want: json.Number("1.50")},
		{name: "scalars", in: []any{"s", true, nil}, want: []any{"s", true, nil}},
		{name: "nested", in: map[string]any{"a": []any{int64(1), map[string]any{"b": 0.5}}},
			want: map[string]any{"a": []any{json.Number("1"), map[string]any{"b": json.Number("0.5")}}}},
		{name: "NaN", in: map[string]any{"x": []any{math.NaN()}}, wantErr: "x[0]: number NaN has no JSON form"},
		{name: "infinity", in: math.Inf(1), wantErr: "number +Inf has no JSON form"},
		{name: "unsupported type", in: map[string]any{"a.b": unsupported{}}, wantErr: `"a.b": unsupported value of type transform.unsupported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fromConfig(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("fromConfig error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fromConfig (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	msg := orderJSON(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEncodingJSON is the reference Decode is measured against.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	msg := orderJSON(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stdDecode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeConcurrent decodes messages with many different member names at once, so
// that decoders share and overwrite slots of the member-name cache.
func TestDecodeConcurrent(t *testing.T) {
	var msgs [][]byte
	for i := range 50 {
		var b strings.Builder
		b.WriteString("{")
		for j := range 40 {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d_%d":{"n%d":[%d,"v%d"]}`, j, i%7, i, j, i)
		}
		b.WriteString("}")
		msgs = append(msgs, []byte(b.String()))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for r := range 20 {
				msg := msgs[(g*13+r)%len(msgs)]
				got, err := Decode(msg)
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := stdDecode(msg)
				if !cmp.Equal(want, got) {
					t.Errorf("Decode(%s) differs from encoding/json", msg)
					return
				}
			}
		})
	}
	wg.Wait()
}
