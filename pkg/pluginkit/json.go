package pluginkit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Reading a whole message with encoding/json costs tens of microseconds in
// WebAssembly (reflection); a function on a flow's hot path reads the members it needs
// with Fields and writes its output with an Object, in a few.

// Fields returns the raw JSON values of the named members of the object in input, in
// the order of names; a member that is absent is nil. The values are slices of input.
// It checks the structure it walks (brackets, quotes, separators), not every literal.
func Fields(input []byte, names ...string) ([][]byte, error) {
	out := make([][]byte, len(names))
	return out, FieldsInto(out, input, names...)
}

// FieldsInto is Fields writing into dst (len(dst) >= len(names)), which may be an array
// on the caller's stack: `var f [3][]byte; err := FieldsInto(f[:], input, "a", "b", "c")`.
func FieldsInto(dst [][]byte, input []byte, names ...string) error {
	out := dst[:len(names)]
	clear(out)
	b := input
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errors.New("the input is not a JSON object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return badJSON(i)
		}
		end := skipString(b, i)
		if end < 0 {
			return badJSON(i)
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return badJSON(i)
		}
		start := skipSpace(b, i+1)
		end = skipValue(b, start)
		if end < 0 {
			return badJSON(start)
		}
		for n, name := range names {
			if len(name) == len(key) && name == string(key) {
				out[n] = b[start:end]
			}
		}
		i = skipSpace(b, end)
		if i < len(b) && b[i] == '}' {
			return nil
		}
		if i >= len(b) || b[i] != ',' {
			return badJSON(i)
		}
		i = skipSpace(b, i+1)
	}
}

func badJSON(at int) error { return fmt.Errorf("the input is not valid JSON (at byte %d)", at) }

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] (a quote), or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			i++
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1. Containers are
// walked with a count of open brackets, strings skipped whole.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default:
		start := i
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
			i++
		}
		if i == start {
			return -1
		}
		return i
	}
}

// String reads a raw JSON string (from Fields); ok is false when raw is not one.
func String(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' {
			err := json.Unmarshal(raw, &s)
			return s, err == nil
		}
	}
	return string(body), true
}

// Len is the number of elements of a raw JSON array; ok is false when raw is not one.
func Len(raw []byte) (n int, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return 0, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return 0, true
	}
	for {
		if i = skipValue(raw, i); i < 0 {
			return 0, false
		}
		n++
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ']' {
			return n, true
		}
		if i >= len(raw) || raw[i] != ',' {
			return 0, false
		}
		i = skipSpace(raw, i+1)
	}
}

// Object writes a JSON object member by member.
type Object struct{ b []byte }

// NewObject starts an object with room for size bytes.
func NewObject(size int) *Object { return &Object{b: append(make([]byte, 0, size), '{')} }

func (o *Object) key(name string) {
	if len(o.b) > 1 {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, name)
	o.b = append(o.b, ':')
}

// Raw adds a member whose value is raw JSON (such as a value from Fields); nil is null.
func (o *Object) Raw(name string, raw []byte) *Object {
	o.key(name)
	if raw == nil {
		raw = []byte("null")
	}
	o.b = append(o.b, raw...)
	return o
}

// String adds a string member.
func (o *Object) String(name, v string) *Object {
	o.key(name)
	o.b = appendString(o.b, v)
	return o
}

// Int adds an integer member.
func (o *Object) Int(name string, v int64) *Object {
	o.key(name)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}

// Bool adds a boolean member.
func (o *Object) Bool(name string, v bool) *Object {
	o.key(name)
	o.b = strconv.AppendBool(o.b, v)
	return o
}

// Bytes ends the object and returns its JSON.
func (o *Object) Bytes() []byte { return append(o.b, '}') }

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
		}
	}
	return append(b, '"')
}
