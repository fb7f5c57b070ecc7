package server

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// checkBody enforces, on a JSON value that encoding/json has already decoded into a
// value of type t, what encoding/json lets through:
//
//   - the rules of I-JSON (RFC 7493), everywhere in the body, opaque members such as
//     event data included: the text is valid UTF-8 (encoding/json silently turns invalid
//     bytes into U+FFFD, and keeps them as they are in a json.RawMessage), no \u escape
//     is a lone surrogate (decoded as U+FFFD too), and no object repeats a member name
//     (encoding/json keeps the last, so {"role":"user","role":"admin"} made an admin);
//   - for members decoded into Go structs: names exactly as declared (encoding/json
//     ignores case, so "ROLE" would set Role a second time), no null (it decodes to
//     nothing at all, so a body of null or {"name":null} did nothing and said 200), and
//     no string that breaks the identifier rule (see identifierProblem): every string
//     member of a request is a name, an id, a URL or a secret.
//
// Members decoded into interface values or json.RawMessage (event data, call parameters)
// are opaque: only the I-JSON rules apply to them. It returns the first offence in
// document order, with the path of the member ("data.items[2].sku"; "" for the body as a
// whole). The walk is one pass over the bytes that allocates little beyond the member
// names it compares; data must be one well-formed JSON value.
func checkBody(data []byte, t reflect.Type) *FieldError {
	w := bodyWalker{data: data}
	return w.value(t)
}

type bodyWalker struct {
	data  []byte
	pos   int
	path  []pathSegment
	names []string // member names of the objects being walked, innermost last
}

// pathSegment is a member name or, when index >= 0, a list index.
type pathSegment struct {
	name  string
	index int
}

// smallObject is the member count up to which duplicates are found by comparing with
// each earlier name; larger objects use a map.
const smallObject = 16

func (w *bodyWalker) fail(detail string) *FieldError {
	var b strings.Builder
	for i, s := range w.path {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case i > 0:
			b.WriteString("." + s.name)
		default:
			b.WriteString(s.name)
		}
	}
	return &FieldError{Field: b.String(), Detail: detail}
}

func (w *bodyWalker) skipSpace() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\r', '\n':
			w.pos++
		default:
			return
		}
	}
}

// value walks the value at w.pos, decoded into t (nil: opaque).
func (w *bodyWalker) value(t reflect.Type) *FieldError {
	t = goType(t)
	switch w.next() {
	case 0:
		return w.fail("unexpected end of JSON input")
	case '{':
		return w.object(t)
	case '[':
		return w.array(t)
	case '"':
		raw, escaped, msg := w.scanString()
		if msg != "" {
			return w.fail(msg)
		}
		if t != nil && t.Kind() == reflect.String {
			if msg := identifierProblem(stringText(raw, escaped)); msg != "" {
				return w.fail(msg)
			}
		}
		return nil
	case 'n':
		w.pos += len("null")
		switch {
		case t == nil:
			return nil
		case len(w.path) == 0:
			return w.fail("the request body must be a JSON object, not null")
		case w.path[len(w.path)-1].index >= 0:
			return w.fail("null is not allowed in this list")
		}
		return w.fail("null is not a value for this field; leave the member out instead")
	}
	// A number, true or false: encoding/json has checked it against t.
	for w.pos < len(w.data) && !strings.ContainsRune(",]} \t\r\n", rune(w.data[w.pos])) {
		w.pos++
	}
	return nil
}

// next is the byte at w.pos after white space, 0 at the end of the data.
func (w *bodyWalker) next() byte {
	w.skipSpace()
	if w.pos >= len(w.data) {
		return 0
	}
	return w.data[w.pos]
}

func (w *bodyWalker) object(t reflect.Type) *FieldError {
	fields, elem := memberTypes(t)
	w.pos++ // {
	names := memberNames{base: len(w.names)}
	defer func() { w.names = w.names[:names.base] }()
	for {
		switch w.next() {
		case '}':
			w.pos++
			return nil
		case '"':
		default:
			return w.fail("malformed object")
		}
		raw, escaped, msg := w.scanString()
		if msg != "" {
			return w.fail("a member name is " + msg)
		}
		name := stringText(raw, escaped)
		w.path = append(w.path, pathSegment{name: name, index: -1})
		if !w.addName(&names, name) {
			return w.fail("this member appears more than once; a member name may appear only once in an object")
		}
		ft := elem
		if fields != nil {
			var ok bool
			if ft, ok = fields[name]; !ok {
				return w.fail(unknownCase(fields, name))
			}
		}
		if w.next() != ':' {
			return w.fail("malformed object")
		}
		w.pos++
		if fe := w.value(ft); fe != nil {
			return fe
		}
		w.path = w.path[:len(w.path)-1]
		if w.next() == ',' {
			w.pos++
		}
	}
}

// memberTypes is what the members of an object decoded into t are decoded into: the
// fields of a struct by member name, or the element of a map (nil for both: opaque).
func memberTypes(t reflect.Type) (fields map[string]reflect.Type, elem reflect.Type) {
	switch {
	case t == nil:
	case t.Kind() == reflect.Struct:
		fields = structFields(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	}
	return fields, elem
}

// memberNames are the member names of one object seen so far: w.names[base:], or, once
// the object has more than smallObject members, seen.
type memberNames struct {
	base int
	seen map[string]bool
}

// addName records a member name of the object of m; false if the object has it already.
func (w *bodyWalker) addName(m *memberNames, name string) bool {
	if m.seen != nil && m.seen[name] || m.seen == nil && slices.Contains(w.names[m.base:], name) {
		return false
	}
	if m.seen == nil && len(w.names)-m.base == smallObject {
		m.seen = make(map[string]bool, 2*smallObject)
		for _, n := range w.names[m.base:] {
			m.seen[n] = true
		}
	}
	if m.seen != nil {
		m.seen[name] = true
	} else {
		w.names = append(w.names, name)
	}
	return true
}

func (w *bodyWalker) array(t reflect.Type) *FieldError {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	w.pos++ // [
	for i := 0; ; i++ {
		switch w.next() {
		case ']':
			w.pos++
			return nil
		case 0:
			return w.fail("malformed array")
		}
		w.path = append(w.path, pathSegment{index: i})
		if fe := w.value(elem); fe != nil {
			return fe
		}
		w.path = w.path[:len(w.path)-1]
		if w.next() == ',' {
			w.pos++
		}
	}
}

// scanString reads the string whose opening quote is at w.pos and returns its contents
// as written, whether it has escapes, and what breaks I-JSON in it ("" if nothing).
func (w *bodyWalker) scanString() (raw []byte, escaped bool, problem string) {
	start := w.pos + 1
	i := start
	for i < len(w.data) {
		switch c := w.data[i]; {
		case c == '"':
			w.pos = i + 1
			return w.data[start:i], escaped, ""
		case c == '\\':
			escaped = true
			if i, problem = w.skipEscape(i); problem != "" {
				return nil, false, problem
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(w.data[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, "not valid UTF-8"
			}
			i += size
		}
	}
	return nil, false, "an unterminated string"
}

// skipEscape returns where the escape at w.data[i] (its backslash) ends, and what
// breaks I-JSON in it: a \u escape of half a surrogate pair without the other half.
func (w *bodyWalker) skipEscape(i int) (next int, problem string) {
	if i+1 < len(w.data) && w.data[i+1] != 'u' {
		return i + 2, ""
	}
	r := hex4(w.data, i+2)
	i += 6
	switch {
	case r < 0xD800 || r > 0xDFFF:
	case r < 0xDC00 && i+1 < len(w.data) && w.data[i] == '\\' && w.data[i+1] == 'u' && hex4(w.data, i+2)>>10 == 0xDC00>>10:
		i += 6 // a high surrogate followed by a low one: a pair
	default:
		return i, fmt.Sprintf(`not valid Unicode: \u%04X is half of a surrogate pair (I-JSON, RFC 7493)`, r)
	}
	return i, ""
}

// hex4 reads the four hex digits at data[i:]; -1 when there are none.
func hex4(data []byte, i int) rune {
	if i+4 > len(data) {
		return -1
	}
	n, err := strconv.ParseUint(string(data[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}

// stringText returns the text of a string's contents, checked by scanString.
func stringText(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	var s string
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	_ = json.Unmarshal(quoted, &s)
	return s
}

// goType is what a JSON value decoded into t becomes: pointers followed, nil for the
// types that take any JSON value (interfaces, json.RawMessage and other Unmarshalers).
func goType(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	return t
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// structFieldsCache maps a struct type to its members' JSON names and types.
var structFieldsCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields returns the JSON member names of struct type t, as encoding/json names
// them (the tag's name, else the field's; "-" left out).
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := structFieldsCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous {
			continue // request bodies embed no structs
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		m[name] = f.Type
	}
	structFieldsCache.Store(t, m)
	return m
}

// unknownCase explains why name, which encoding/json accepted for a field whose name
// differs only in case, is refused.
func unknownCase(fields map[string]reflect.Type, name string) string {
	for declared := range fields {
		if strings.EqualFold(declared, name) {
			return fmt.Sprintf("unknown field; member names are case-sensitive: did you mean %q?", declared)
		}
	}
	return "unknown field"
}
