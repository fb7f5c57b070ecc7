package server

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
)

// schemaOf is the JSON Schema (2020-12, as OpenAPI 3.1 uses it) of what encoding/json
// writes for a value of type t: the answers' documented shapes come from the very types
// the handlers encode, so they cannot drift apart. It follows encoding/json's rules, not
// an idealised model: a nil slice or map is written as null, so those allow null; a
// pointer allows null; omitempty fields are not required; a type with its own
// MarshalJSON, and any, may be anything.
func schemaOf(t reflect.Type) map[string]any {
	return schemaFor(t, map[reflect.Type]bool{})
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	jsonMarshaler   = reflect.TypeFor[json.Marshaler]()
	textMarshalerTy = reflect.TypeFor[encoding.TextMarshaler]()
	// textUnmarshalerTy: encoding/json decodes a JSON string into such a type.
	textUnmarshalerTy = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func schemaFor(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	if t.Kind() == reflect.Pointer {
		// Before the marshaler checks: a *time.Time has time.Time's MarshalJSON too.
		return nullable(schemaFor(t.Elem(), seen))
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType, t.Kind() == reflect.Interface:
		return map[string]any{}
	case t.Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(jsonMarshaler):
		return map[string]any{}
	case t.Kind() != reflect.String && (t.Implements(textMarshalerTy) || reflect.PointerTo(t).Implements(textMarshalerTy)):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": []string{"string", "null"}} // base64
		}
		return map[string]any{"type": []string{"array", "null"}, "items": schemaFor(t.Elem(), seen)}
	case reflect.Array:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": schemaFor(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{} // a recursive type: described once
		}
		seen[t] = true
		defer delete(seen, t)
		props, required := map[string]any{}, []string{}
		addFields(t, seen, props, &required)
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// addFields adds a struct's fields as encoding/json writes them, embedded structs
// flattened.
func addFields(t reflect.Type, seen map[reflect.Type]bool, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(ft, seen, props, required)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		s := schemaFor(f.Type, seen)
		if strings.Contains(opts, "string") {
			s = map[string]any{"type": "string"}
		}
		props[name] = s
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

// nullable lets s also be null.
func nullable(s map[string]any) map[string]any {
	switch typ := s["type"].(type) {
	case string:
		s["type"] = []string{typ, "null"}
	case []string:
		for _, x := range typ {
			if x == "null" {
				return s
			}
		}
		s["type"] = append(typ, "null")
	}
	return s
}

// requestSchemaOf is the JSON Schema of the request bodies decodeBody accepts into a
// value of type t: encoding/json's rules as decodeBody and checkBody tighten them. So
// no member is null, not even one decoded into a pointer (a pointer is how a handler
// tells a member left out, and null is refused, not taken for that); an object decoded
// into a struct has no member the struct does not declare (additionalProperties false,
// names exact); and a string decoded into a Go string holds no control character (see
// identifierProblem). What is decoded into an interface or json.RawMessage may be any
// JSON value. Decoding requires no member: a field is required only when its openapi
// tag says so, which it does when the handler or its service refuses a body without it.
//
// The field tag `openapi:"required,enum=a|b"` holds what the Go type cannot say:
// required, and the only values a string member may take.
func requestSchemaOf(t reflect.Type) map[string]any {
	return requestSchemaFor(t, map[reflect.Type]bool{})
}

// noControlCharacters is identifierProblem's rule as a pattern (unicode.IsControl is
// category Cc: C0, DEL and C1).
const noControlCharacters = `^[^\x00-\x1F\x7F-\x9F]*$`

func requestSchemaFor(t reflect.Type, seen map[reflect.Type]bool) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case goType(t) == nil: // an interface, json.RawMessage, another json.Unmarshaler
		return map[string]any{}
	case t.Kind() != reflect.String && reflect.PointerTo(t).Implements(textUnmarshalerTy):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string", "pattern": noControlCharacters}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string"} // base64
		}
		return map[string]any{"type": "array", "items": requestSchemaFor(t.Elem(), seen)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": requestSchemaFor(t.Elem(), seen)}
	case reflect.Struct:
		if seen[t] {
			return map[string]any{} // a recursive type: described once
		}
		seen[t] = true
		defer delete(seen, t)
		props, required := map[string]any{}, []string{}
		// The members checkBody knows (structFields): promoted fields, no embedded ones.
		for _, f := range reflect.VisibleFields(t) {
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || f.Anonymous || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := requestSchemaFor(f.Type, seen)
			if strings.Contains(opts, "string") {
				s = map[string]any{"type": "string"}
			}
			tag := strings.Split(f.Tag.Get("openapi"), ",")
			for _, o := range tag {
				if values, ok := strings.CutPrefix(o, "enum="); ok {
					s["enum"] = strings.Split(values, "|")
					delete(s, "pattern") // the values say it all
				}
			}
			props[name] = s
			if slices.Contains(tag, "required") {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}
