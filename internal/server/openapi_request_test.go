package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/junctionhq/junction/internal/auth"
	"github.com/junctionhq/junction/internal/integration"
)

// probeGateway knows every operation, so that a call reaches the reading of its body;
// nothing else of it is ever called before that.
type probeGateway struct{ Gateway }

func (probeGateway) Operation(name, op string) (integration.OperationInfo, bool) {
	return integration.OperationInfo{Integration: name, Name: op, BodyType: "json"}, true
}

// readCounter is a request body that tells whether the handler read it.
type readCounter struct {
	r    io.Reader
	read bool
}

func (c *readCounter) Read(p []byte) (int, error) {
	c.read = true
	return c.r.Read(p)
}

// probeRoute sends a JSON body of {} to a route as an admin, past the authentication
// middleware, and says whether the handler read the body and what it decoded it into.
// The services are empty interfaces: a handler that calls one panics, which ends the
// probe, after the handlers here have read their bodies.
func probeRoute(s *Server, pattern string) (read bool, decodedInto reflect.Type) {
	method, path, found := strings.Cut(pattern, " ")
	if !found {
		method, path = http.MethodPost, pattern // the proxy: any method
	}
	path = strings.TrimSuffix(path, "{$}")
	path = pathParamRE.ReplaceAllStringFunc(path, func(m string) string {
		if strings.HasSuffix(m, "...}") {
			return "a/b"
		}
		return "x1"
	})
	body := &readCounter{r: strings.NewReader(`{}`)}
	admin := auth.Token{ID: "tok_probe", Role: auth.RoleAdmin}
	ri := &requestInfo{id: "probe", token: &admin}
	req := httptest.NewRequestWithContext(context.WithValue(context.Background(), infoKey{}, ri), method, path, body)
	req.Header.Set("Content-Type", "application/json")
	func() {
		defer func() { _ = recover() }() // an empty service, called after the body
		s.mux.ServeHTTP(httptest.NewRecorder(), req)
	}()
	return body.read, ri.decodedInto
}

// TestRequestBodiesAreDocumented: every route that reads a request body documents it,
// one that decodes JSON documents the very type it decodes into (the body's schema is
// made from it), and no route documents a body it does not read.
func TestRequestBodiesAreDocumented(t *testing.T) {
	s := allRoutes(t)
	s.SetGateway(probeGateway{})
	bodies := 0
	for _, rt := range s.routeTable {
		d := apiDocs[rt.pattern]
		documented := d.Request != nil || d.RawBody
		if documented != (d.Body != "") {
			t.Errorf("%s: a request body needs both a type (Request or RawBody) and a description (Body)", rt.pattern)
		}
		if strings.HasPrefix(rt.pattern, "GET ") {
			// A GET has no body here; its handlers may wait on streams the probe cannot end.
			if documented {
				t.Errorf("%s documents a request body", rt.pattern)
			}
			continue
		}
		read, decoded := probeRoute(s, rt.pattern)
		var want reflect.Type
		if d.Request != nil {
			want = reflect.TypeOf(d.Request)
		}
		switch {
		case read && !documented:
			t.Errorf("%s reads a request body that its apiDocs entry does not document (Request, RawBody)", rt.pattern)
		case !read && documented:
			t.Errorf("%s documents a request body but did not read one", rt.pattern)
		case decoded != nil && decoded != want:
			t.Errorf("%s decodes its body into %v; its apiDocs entry documents %v", rt.pattern, decoded, want)
		case decoded == nil && want != nil && goType(want) != nil:
			t.Errorf("%s documents a body of type %v but decoded none", rt.pattern, want)
		}
		if read {
			bodies++
		}
	}
	if bodies < 9 {
		t.Errorf("only %d routes read a body: the probe does not reach them", bodies)
	}
}

// TestAnswersAreDocumented: every successful answer that has a body is either JSON of a
// documented type or of a documented media type.
func TestAnswersAreDocumented(t *testing.T) {
	for pattern, d := range apiDocs {
		for _, v := range append([]apiDoc{d}, d.Variants...) {
			if v.Passthrough || len(d.Variants) > 0 && v.Path == "" {
				continue
			}
			success := v.Success
			if success == 0 {
				success = http.StatusOK
			}
			what := pattern
			if v.Path != "" {
				what += " (" + v.Path + ")"
			}
			for _, code := range append([]int{success}, v.Also...) {
				bodiless := code == http.StatusNoContent || code == http.StatusSwitchingProtocols
				switch a := v.answer(code); {
				case bodiless && (a != nil || len(v.Produces) > 0):
					t.Errorf("%s: %d has no body, yet an answer is documented", what, code)
				case !bodiless && (a == nil) == (len(v.Produces) == 0):
					t.Errorf("%s: a %d answer needs either its JSON type (Response, Answers) or its media types (Produces)", what, code)
				}
			}
			for code := range v.Answers {
				if code != success && !slices.Contains(v.Also, code) {
					t.Errorf("%s: Answers documents %d, which is no status of it", what, code)
				}
			}
		}
	}
}

// sampleJSON is a body that decodes into a value of type t with every member present
// and every list and map holding one element.
func sampleJSON(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "2026-01-02T03:04:05Z"
	case goType(t) == nil:
		return map[string]any{"anything": []any{1, "two", nil}}
	}
	switch t.Kind() {
	case reflect.Bool:
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 7
	case reflect.Float32, reflect.Float64:
		return 7.5
	case reflect.String:
		return "sample"
	case reflect.Slice, reflect.Array:
		return []any{sampleJSON(t.Elem())}
	case reflect.Map:
		return map[string]any{"key": sampleJSON(t.Elem())}
	case reflect.Struct:
		obj := map[string]any{}
		for _, f := range reflect.VisibleFields(t) {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || f.Anonymous || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			obj[name] = sampleJSON(f.Type)
			for _, o := range strings.Split(f.Tag.Get("openapi"), ",") {
				if values, ok := strings.CutPrefix(o, "enum="); ok {
					obj[name] = strings.Split(values, "|")[0]
				}
			}
		}
		return obj
	}
	panic(fmt.Sprintf("no sample of %v", t))
}

// compileSchema compiles a JSON Schema given as Go values.
func compileSchema(t *testing.T, what string, schema any) *jsonschema.Schema {
	t.Helper()
	raw, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("request.json", doc); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	sch, err := c.Compile("request.json")
	if err != nil {
		t.Fatalf("%s: the schema does not compile: %v", what, err)
	}
	return sch
}

// mutation is a change to a sample body, at a path of member names and list indexes.
type mutation struct {
	what string
	path []any // string: a member; int: an index
	// set returns the new value of the member (remove: the member is left out).
	set    func(old any) any
	remove bool
}

// apply returns a copy of body with m applied.
func (m mutation) apply(body any) any {
	if len(m.path) == 0 {
		return m.set(body)
	}
	switch b := body.(type) {
	case map[string]any:
		c := make(map[string]any, len(b))
		for k, v := range b {
			c[k] = v
		}
		key := m.path[0].(string)
		switch {
		case len(m.path) == 1 && m.remove:
			delete(c, key)
		case len(m.path) == 1:
			c[key] = m.set(b[key])
		default:
			c[key] = mutation{path: m.path[1:], set: m.set, remove: m.remove}.apply(b[key])
		}
		return c
	case []any:
		c := slices.Clone(b)
		i := m.path[0].(int)
		if len(m.path) == 1 {
			c[i] = m.set(b[i])
		} else {
			c[i] = mutation{path: m.path[1:], set: m.set, remove: m.remove}.apply(b[i])
		}
		return c
	}
	panic("no such path")
}

// otherType is a JSON value of another type than v.
func otherType(v any) any {
	switch v.(type) {
	case string:
		return 12
	case map[string]any:
		return []any{}
	case []any:
		return map[string]any{}
	case bool:
		return "true"
	}
	return "12"
}

// mutations are the changes to try at every place of a sample body: null, a value of
// another type, a string with a control character, an unknown member, a member left
// out.
func mutations(body any, path []any) []mutation {
	at := slices.Clone(path)
	ms := []mutation{
		{what: "null", path: at, set: func(any) any { return nil }},
		{what: "another type", path: at, set: otherType},
	}
	switch b := body.(type) {
	case string:
		ms = append(ms, mutation{what: "a control character", path: at, set: func(any) any { return "a\u0001b" }})
	case map[string]any:
		ms = append(ms, mutation{what: "an unknown member", path: at, set: func(old any) any {
			c := map[string]any{"unknown_member": 1}
			for k, v := range old.(map[string]any) {
				c[k] = v
			}
			return c
		}})
		for k, v := range b {
			ms = append(ms, mutation{what: "left out", path: append(slices.Clone(path), k), remove: true})
			ms = append(ms, mutations(v, append(slices.Clone(path), k))...)
		}
	case []any:
		for i, v := range b {
			ms = append(ms, mutations(v, append(slices.Clone(path), i))...)
		}
	}
	return ms
}

// TestRequestSchemasAgreeWithDecoding: for every documented JSON request body, a sample
// of its type is valid against the body's schema in the OpenAPI document, and a change
// to it is valid exactly when the handler's decoding (decodeBody) accepts it; except
// that leaving out a required member, or giving a member a value outside its enum, is
// refused only by the schema (the service refuses it after decoding).
func TestRequestSchemasAgreeWithDecoding(t *testing.T) {
	n := 0
	for pattern, d := range apiDocs {
		if d.Request == nil {
			continue
		}
		n++
		method, _, _ := strings.Cut(pattern, " ")
		op := openAPIOperation(strings.ToLower(method), d, "")
		if op.RequestBody == nil || op.RequestBody.Content["application/json"].Schema == nil {
			t.Errorf("%s: no application/json request body schema", pattern)
			continue
		}
		schema := compileSchema(t, pattern, op.RequestBody.Content["application/json"].Schema)
		typ := reflect.TypeOf(d.Request)
		requestSchema := requestSchemaOf(typ)
		verdicts := func(body any) (decodeErr *Problem, schemaErr error) {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			return decodeBody(raw, reflect.New(typ).Interface(), false), schema.Validate(v)
		}
		sample := sampleJSON(typ)
		if decodeErr, schemaErr := verdicts(sample); schemaErr != nil || decodeErr != nil {
			t.Errorf("%s: the sample %v of %v: schema %v, decoding %v", pattern, sample, typ, schemaErr, decodeErr)
			continue
		}
		for _, m := range mutations(sample, nil) {
			body := m.apply(sample)
			decodeErr, schemaErr := verdicts(body)
			if m.remove && slices.Contains(memberSchema(requestSchema, m.path[:len(m.path)-1])["required"].([]string), m.path[len(m.path)-1].(string)) {
				if schemaErr == nil || decodeErr != nil {
					t.Errorf("%s: %v %s (required): schema %v, decoding %v; want refused by the schema only", pattern, m.path, m.what, schemaErr, decodeErr)
				}
				continue
			}
			if (schemaErr == nil) != (decodeErr == nil) {
				t.Errorf("%s: %v %s: schema %v, decoding %v", pattern, m.path, m.what, schemaErr, decodeErr)
			}
		}
		// Enums: a string outside them is refused by the schema.
		props, _ := requestSchema["properties"].(map[string]any)
		for name, p := range props {
			if _, ok := p.(map[string]any)["enum"]; !ok {
				continue
			}
			body := mutation{path: []any{name}, set: func(any) any { return "not-one-of-them" }}.apply(sample)
			if _, schemaErr := verdicts(body); schemaErr == nil {
				t.Errorf("%s: %s outside its enum is valid", pattern, name)
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d request bodies have a documented type", n)
	}
}

// memberSchema is the schema at path (member names; list indexes) in s; its required
// is always a []string, empty when nothing is (or when the place is opaque).
func memberSchema(s map[string]any, path []any) map[string]any {
	for _, p := range path {
		var next any
		switch p := p.(type) {
		case int:
			next = s["items"]
		case string:
			if props, ok := s["properties"].(map[string]any); ok {
				next = props[p]
			} else {
				next = s["additionalProperties"]
			}
		}
		if s, _ = next.(map[string]any); s == nil {
			break
		}
	}
	if _, ok := s["required"].([]string); !ok {
		s = map[string]any{"required": []string{}}
	}
	return s
}

// TestRequestSchemaOf: the request schema's rules on a type of every kind.
func TestRequestSchemaOf(t *testing.T) {
	type inner struct {
		N int `json:"n" openapi:"required"`
	}
	type sample struct {
		Name  string            `json:"name" openapi:"required"`
		Role  string            `json:"role,omitempty" openapi:"enum=a|b"`
		Count *int              `json:"count"`
		When  time.Time         `json:"when"`
		Tags  []string          `json:"tags"`
		Meta  map[string]string `json:"meta"`
		Data  json.RawMessage   `json:"data"`
		Any   any               `json:"any"`
		In    *inner            `json:"in"`
		Skip  string            `json:"-"`
	}
	sch := compileSchema(t, "sample", requestSchemaOf(reflect.TypeFor[sample]()))
	for body, ok := range map[string]bool{
		`{"name":"a"}`: true,
		`{"name":"a","role":"b","count":1,"when":"2026-01-01T00:00:00Z","tags":["x"],"meta":{"k":"v"},"data":null,"any":[1],"in":{"n":2}}`: true,
		`{}`:                          false, // name is required
		`{"name":"a","role":"c"}`:     false, // not in the enum
		`{"name":"a","count":null}`:   false, // a pointer is left out, not null
		`{"name":"a","count":1.5}`:    false,
		`{"name":"a","tags":null}`:    false,
		`{"name":"a","tags":[null]}`:  false,
		`{"name":"a","meta":{"k":1}}`: false,
		`{"name":"a","in":{}}`:        false, // n is required
		`{"name":"a","Skip":"x"}`:     false, // unknown
		`{"name":"a","NAME":"x"}`:     false, // names are exact
		`{"name":"a\u0000"}`:          false,
		`{"name":"a\u009f"}`:          false,
		`{"name":"tab\tless"}`:        false,
		`{"name":"é 漢字 🙂"}`:           true,
		`null`:                        false,
		`[]`:                          false,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != ok {
			t.Errorf("%s: valid %v, want %v (%v)", body, err == nil, ok, err)
		}
	}
}
