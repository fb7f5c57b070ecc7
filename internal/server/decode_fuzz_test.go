package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzDecodeJSON checks that no body makes decodeJSON panic, that every rejection is a
// complete problem document, and that whatever it accepts is valid UTF-8 with no
// repeated member name anywhere, is an object, and gives the request struct no control
// character. It decodes each body twice, into a request struct (POST /tokens) and into
// call parameters (map[string]any, opaque values), since the checks differ. The seeds
// run as part of go test.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"role":"user","name":"x"}`, `{"role":5}`, `{"x":1}`,
		`{"role":"user"} {}`, "{\n\"role\":", `{"name":"\ud800"}`, "\xff\xfe", `{"role":"user","name":"x"}}`,
		`{"role":"user","role":"admin"}`, `{"role":"user","ROLE":"admin"}`, `{"r\u006fle":"user","role":"admin"}`,
		`{"name":"a\u0000b"}`, "{\"name\":\"caf\xe9\"}", `{"a":{"b":[{"c":1,"c":2}]}}`, `{"a":"\udc00\ud800"}`,
		`{"a":"\ud83d\ude00"}`, `{"a":"\\udc00"}`, `{"name":null}`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":18}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req createTokenRequest
		if decode(t, body, &req) {
			for _, s := range []string{string(req.Role), req.Name} {
				if strings.IndexFunc(s, unicode.IsControl) >= 0 {
					t.Fatalf("accepted a control character in %q: %q", s, body)
				}
			}
		}
		var params map[string]any
		decode(t, body, &params)
	})
}

// decode runs decodeJSON on body into dst and checks its answer; it reports whether the
// body was accepted.
func decode(t *testing.T, body string, dst any) bool {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/tokens", strings.NewReader(body))
	if err := decodeJSON(w, r, 1<<10, dst); err != nil {
		p, ok := err.(Problem)
		if !ok {
			t.Fatalf("decodeJSON returned %T %v, not a Problem, for %q", err, err, body)
		}
		if p.Status < 400 || p.Type == "" || p.Title == "" || p.Detail == "" {
			t.Fatalf("incomplete problem %+v for %q", p, body)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("problem does not encode: %v", err)
		}
		return false
	}
	switch {
	case !json.Valid([]byte(body)):
		t.Fatalf("accepted invalid JSON %q", body)
	case !utf8.ValidString(body):
		t.Fatalf("accepted invalid UTF-8 %q", body)
	case !strings.HasPrefix(strings.TrimLeft(body, " \t\r\n"), "{"):
		t.Fatalf("accepted a body that is not an object: %q", body)
	}
	if err := uniqueNames(json.NewDecoder(strings.NewReader(body))); err != nil {
		t.Fatalf("accepted %q: %v", body, err)
	}
	return true
}

// uniqueNames walks a JSON document with encoding/json's tokenizer (an implementation
// independent of checkBody's) and reports a member name repeated within an object.
func uniqueNames(dec *json.Decoder) error {
	type frame struct {
		object bool
		names  map[string]bool
		isKey  bool // the next token of an object is a name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or an error json.Valid would have seen
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.isKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].isKey = true
				}
				continue
			}
			name := tok.(string)
			if top.names[name] {
				return fmt.Errorf("member %q repeated", name)
			}
			top.names[name] = true
			top.isKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, names: map[string]bool{}, isKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object the next token is a name again.
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].isKey = true
		}
	}
}

// The oracle itself must find what it is there to find.
func TestUniqueNamesOracle(t *testing.T) {
	for body, want := range map[string]bool{
		`{"a":1,"a":2}`: false, `{"a":{"b":1},"b":{"a":1}}`: true, `[{"a":1},{"a":1}]`: true,
		`{"a":[{"b":1,"b":2}]}`: false, `{"a":{"x":1},"a":2}`: false, `{"a":"\u0062","b":1}`: true,
		`{"b":1,"\u0062":2}`: false,
	} {
		if got := uniqueNames(json.NewDecoder(bytes.NewReader([]byte(body)))) == nil; got != want {
			t.Errorf("uniqueNames(%s) ok = %v, want %v", body, got, want)
		}
	}
}
