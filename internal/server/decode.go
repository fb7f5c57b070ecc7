package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is zero. The
// management API only takes small JSON documents.
const DefaultMaxBodyBytes int64 = 1 << 20

// decodeJSON reads r's body into dst, strictly: at most limit bytes (413), a JSON media
// type or none (415), exactly one JSON value with no trailing data, no members dst does
// not declare, and every member of the right JSON type (400); beyond what encoding/json
// checks, the body must be I-JSON (valid UTF-8, no lone surrogates, no repeated member
// names), an object where dst is a struct, and free of null and of control characters
// in the members dst declares (see checkBody). A 400 names where the problem is: the
// field path in errors[].field, the byte offset (and line:column) of a syntax error.
//
// It returns nil on success; otherwise the Problem to send. Handlers call it for every
// request with a body so clients see one consistent set of rules.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	data, err := readJSONBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return invalid("request body is empty; expected a JSON object", FieldError{Field: "", Detail: "empty body"})
	}
	if p := decodeInto(r, data, dst, false); p != nil {
		return *p
	}
	return nil
}

// decodeInto is decodeBody for a request's handler: it notes the type of dst, which
// the route's documentation must name (see requestInfo.decodedInto).
func decodeInto(r *http.Request, data []byte, dst any, useNumber bool) *Problem {
	infoFrom(r.Context()).decodedInto = reflect.TypeOf(dst).Elem()
	return decodeBody(data, dst, useNumber)
}

// readJSONBody checks the media type and reads the body up to limit bytes. Its error is
// a Problem.
func readJSONBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if p := checkJSONContentType(r.Header.Get("Content-Type")); p != nil {
		return nil, *p
	}
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	// Reading the whole (bounded) body first gives line:column for syntax errors and a
	// simple trailing-data check, at a memory cost the limit already caps.
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, NewProblem(KindPayloadTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", mbe.Limit)).With("limit_bytes", mbe.Limit)
		}
		return nil, invalid("could not read the request body", FieldError{Field: "", Detail: "body could not be read"})
	}
	return data, nil
}

// decodeBody decodes exactly one JSON value into dst, rejecting unknown members,
// trailing data and what checkBody refuses. useNumber keeps numbers as json.Number
// (exact, for values passed on).
func decodeBody(data []byte, dst any, useNumber bool) *Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if useNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(data, err)
	}
	// Exactly one value: anything but whitespace after it is an error, not ignored, so
	// a client that concatenated two documents learns about it.
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		off := int64(len(data) - len(rest)) // first byte after the value that is not space
		line, col := lineCol(data, off)
		p := invalid(fmt.Sprintf("unexpected data after the JSON value at byte offset %d (line %d, column %d)", off, line, col),
			FieldError{Field: "", Detail: "trailing data after the JSON value"}).
			With("offset", off).With("line", line).With("column", col)
		return &p
	}
	if fe := checkBody(data[:end], reflect.TypeOf(dst)); fe != nil {
		msg := fe.Detail
		if fe.Field != "" {
			msg = fmt.Sprintf("field %q: %s", fe.Field, fe.Detail)
		}
		p := invalid(msg, *fe)
		return &p
	}
	return nil
}

// checkJSONContentType accepts a missing Content-Type (curl -d without -H is common and
// harmless, since the body is parsed as JSON regardless), application/json and any
// application/*+json type.
func checkJSONContentType(ct string) *Problem {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	p := NewProblem(KindUnsupportedMediaType, fmt.Sprintf("Content-Type %q is not supported; send application/json", ct))
	return &p
}

// decodeProblem turns an encoding/json error into a 400 that names the field or place.
func decodeProblem(data []byte, err error) *Problem {
	syn, isSyntax := errors.AsType[*json.SyntaxError](err)
	typ, isType := errors.AsType[*json.UnmarshalTypeError](err)
	var p Problem
	switch {
	case isSyntax:
		// Offset counts the bytes read, the offending one included; report the 0-based
		// offset of that byte, and its 1-based line and column, as editors show them.
		off := max(syn.Offset-1, 0)
		line, col := lineCol(data, off)
		p = invalid(fmt.Sprintf("malformed JSON at byte offset %d (line %d, column %d): %s", off, line, col, strings.TrimPrefix(syn.Error(), "json: ")),
			FieldError{Field: "", Detail: "malformed JSON"}).
			With("offset", off).With("line", line).With("column", col)
	case errors.Is(err, io.ErrUnexpectedEOF):
		off := int64(len(data))
		line, col := lineCol(data, off)
		p = invalid(fmt.Sprintf("malformed JSON: unexpected end of input at byte offset %d (line %d, column %d)", off, line, col),
			FieldError{Field: "", Detail: "unexpected end of JSON input"}).
			With("offset", off).With("line", line).With("column", col)
	case isType:
		want := jsonTypeName(typ.Type)
		if typ.Field == "" {
			p = invalid(fmt.Sprintf("request body must be a JSON %s, not %s", want, typ.Value),
				FieldError{Field: "", Detail: fmt.Sprintf("expected %s, got %s", want, typ.Value)})
			break
		}
		p = invalid(fmt.Sprintf("field %q must be %s %s, not %s", typ.Field, article(want), want, typ.Value),
			FieldError{Field: typ.Field, Detail: fmt.Sprintf("expected %s, got %s", want, typ.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for DisallowUnknownFields; the message format
		// "json: unknown field \"name\"" has been stable since Go 1.10.
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if unq, uerr := unquote(name); uerr == nil {
			name = unq
		}
		p = invalid(fmt.Sprintf("unknown field %q", name), FieldError{Field: name, Detail: "unknown field"})
	default:
		// json.InvalidUnmarshalError and friends are bugs in the handler, not the client,
		// but the client still gets a problem document; the detail stays generic.
		p = invalid("request body is not valid for this endpoint", FieldError{Field: "", Detail: "could not decode body"})
	}
	return &p
}

func unquote(s string) (string, error) {
	var out string
	err := json.Unmarshal([]byte(s), &out)
	return out, err
}

// lineCol converts a byte offset into 1-based line and column (column counted in bytes,
// which matches the offset for the ASCII that JSON syntax is made of).
func lineCol(data []byte, off int64) (line, col int) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// jsonTypeName names the JSON type a Go type is decoded from.
func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return t.String()
	}
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
