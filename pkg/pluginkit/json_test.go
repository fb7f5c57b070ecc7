package pluginkit

import (
	"testing"
)

func TestFields(t *testing.T) {
	in := []byte(` {"a": "x\"y", "n": -1.5e3, "list": [1, {"b": [true, null]}, "]"], "o": {}, "skip": false} `)
	f, err := Fields(in, "list", "a", "missing", "n", "o")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`[1, {"b": [true, null]}, "]"]`, `"x\"y"`, "", "-1.5e3", "{}"}
	for i, w := range want {
		if string(f[i]) != w {
			t.Errorf("field %d = %q, want %q", i, f[i], w)
		}
	}
	if s, ok := String(f[1]); !ok || s != `x"y` {
		t.Errorf("String = %q %v", s, ok)
	}
	if n, ok := Len(f[0]); !ok || n != 3 {
		t.Errorf("Len = %d %v", n, ok)
	}
	for _, bad := range []string{`[1]`, `{"a" 1}`, `{"a": "x`, `{"a": [1,}`} {
		if _, err := Fields([]byte(bad), "a"); err == nil {
			t.Errorf("Fields(%s) succeeded", bad)
		}
	}
	o := NewObject(16).String("s", "a\"b\n").Int("i", 42).Raw("r", []byte(`[1]`)).Raw("nil", nil).Bool("b", true).Bytes()
	if string(o) != `{"s":"a\"b\u000a","i":42,"r":[1],"nil":null,"b":true}` {
		t.Errorf("Object = %s", o)
	}
}

func TestCallAndPermanent(t *testing.T) {
	Register("kit_test_upper", func(in []byte) ([]byte, error) {
		s, ok := String(in)
		if !ok {
			return nil, Permanent(errNotString)
		}
		return []byte(`"` + s + `!"`), nil
	})
	if out, err := Call("kit_test_upper", []byte(`"hi"`)); err != nil || string(out) != `"hi!"` {
		t.Errorf("Call = %s, %v", out, err)
	}
	if _, err := Call("kit_test_upper", []byte(`1`)); err == nil || !IsPermanent(err) {
		t.Errorf("Call with bad input: %v, want a permanent error", err)
	}
	if _, err := Call("nope", nil); err == nil {
		t.Error("Call of an unknown function succeeded")
	}
}

var errNotString = errorString("not a string")

type errorString string

func (e errorString) Error() string { return string(e) }
