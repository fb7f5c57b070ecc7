package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Aliases, so that the embedded field is not named like the interface's method.
type (
	jobsAPI      = Jobs
	workflowsAPI = Workflows
)

// allRoutes is a server with every optional service present, so that routes registers
// every route. The services are never called.
func allRoutes(t *testing.T) *Server {
	t.Helper()
	s, err := New(Options{
		Tokens: struct{ Tokens }{}, Ready: func(context.Context) error { return nil }, Logger: slog.New(slog.DiscardHandler),
		Webhooks: struct{ Webhooks }{}, Flows: struct{ Flows }{}, Handlers: struct{ Handlers }{},
		Jobs: struct{ jobsAPI }{}, Workflows: struct{ workflowsAPI }{}, Events: struct{ Events }{}, Reports: struct{ Reports }{}, Cluster: struct{ Cluster }{}, Plugins: struct{ Plugins }{}, Version: "v9.9.9",
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEveryRouteIsDocumented: the OpenAPI document comes from the route table, so a
// route without a description, or a description of no route, fails here.
func TestEveryRouteIsDocumented(t *testing.T) {
	s := allRoutes(t)
	registered := map[string]bool{}
	for _, rt := range s.routeTable {
		registered[rt.pattern] = true
		d, ok := apiDocs[rt.pattern]
		if !ok {
			t.Errorf("route %q has no entry in apiDocs", rt.pattern)
			continue
		}
		for _, v := range append([]apiDoc{d}, d.Variants...) {
			if len(d.Variants) > 0 && v.Summary == "" && v.Path == "" {
				continue // the dispatching entry itself
			}
			if v.Summary == "" || v.Tag == "" {
				t.Errorf("route %q: a documented operation without summary or tag: %+v", rt.pattern, v)
			}
		}
	}
	for pattern := range apiDocs {
		if !registered[pattern] {
			t.Errorf("apiDocs describes %q, which is no route", pattern)
		}
	}
}

// TestOpenAPIDocument: /openapi.json is OpenAPI 3.1 with every route, its path
// parameters, who may call it, and problem documents for errors.
func TestOpenAPIDocument(t *testing.T) {
	s := allRoutes(t)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/openapi.json", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string
		Info    struct{ Version string }
		Paths   map[string]map[string]struct {
			OperationID string `json:"operationId"`
			Summary     string
			Role        string `json:"x-junction-role"`
			Parameters  []struct{ Name, In string }
			Responses   map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Info.Version != "v9.9.9" {
		t.Errorf("openapi %q version %q", doc.OpenAPI, doc.Info.Version)
	}
	ids := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if ids[op.OperationID] {
				t.Errorf("operationId %q twice", op.OperationID)
			}
			ids[op.OperationID] = true
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s %s: no default (problem) response", method, path)
			}
			for _, name := range pathParamRE.FindAllStringSubmatch(path, -1) {
				found := false
				for _, p := range op.Parameters {
					found = found || (p.In == "path" && p.Name == name[1])
				}
				if !found {
					t.Errorf("%s %s: path parameter %s not declared", method, path, name[1])
				}
			}
		}
	}
	for _, c := range []struct{ path, method, role string }{
		{"/workflows/{name}/runs", "get", "user"},
		{"/workflows/runs/{id}", "get", "user"},
		{"/flows/{name}/stop", "post", "admin"},
		{"/healthz", "get", ""},
		{"/proxy/{name}/{path}", "patch", "user"},
		{"/in/{path}", "post", "user"},
	} {
		op, ok := doc.Paths[c.path][c.method]
		if !ok || op.Summary == "" || op.Role != c.role {
			t.Errorf("%s %s: %+v (present %v), want role %q", c.method, c.path, op, ok, c.role)
		}
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/docs", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), `fetch("/openapi.json")`) || strings.Contains(string(body), "https://") {
		t.Errorf("GET /docs: %d, fetches something other than /openapi.json or is not the page", rec.Code)
	}
}

// TestResponseSchemasAcceptTheirTypes: every documented answer type, encoded as the
// handlers encode it (here its zero value), matches the schema made from it; and a
// schema refuses what the type cannot be.
func TestResponseSchemasAcceptTheirTypes(t *testing.T) {
	check := func(what string, schema map[string]any, body []byte) error {
		c := jsonschema.NewCompiler()
		raw, _ := json.Marshal(schema)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("s.json", doc); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		sch, err := c.Compile("s.json")
		if err != nil {
			t.Fatalf("%s: schema does not compile: %v", what, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(v)
	}
	n := 0
	for pattern, d := range apiDocs {
		for _, v := range append([]apiDoc{d}, d.Variants...) {
			answers := []any{v.Response}
			for _, a := range v.Answers {
				answers = append(answers, a)
			}
			for _, a := range answers {
				values := []any{a}
				if alternatives, ok := a.(anyOf); ok {
					values = alternatives
				}
				for _, value := range values {
					if value == nil {
						continue
					}
					n++
					body, err := json.Marshal(value)
					if err != nil {
						t.Fatal(err)
					}
					if err := check(pattern, answerSchema(a), body); err != nil {
						t.Errorf("%s: its own zero value %s does not match: %v", pattern, body, err)
					}
				}
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d answers have a documented type", n)
	}
	type sample struct {
		Name  string          `json:"name"`
		Count int             `json:"count"`
		When  *time.Time      `json:"when"`
		Extra string          `json:"extra,omitempty"`
		Data  json.RawMessage `json:"data"`
	}
	schema := schemaOf(reflect.TypeFor[sample]())
	for body, ok := range map[string]bool{
		`{"name":"a","count":1,"when":null,"data":{"x":1}}`:              true,
		`{"name":"a","count":1,"when":"2026-01-01T00:00:00Z","data":[]}`: true,
		`{"name":"a","count":"1","when":null,"data":1}`:                  false, // count is a number
		`{"name":"a","when":null,"data":1}`:                              false, // count is required
		`{"name":"a","count":1,"when":null,"data":1,"extra":"x"}`:        true,
		`{"name":"a","count":1.5,"when":null,"data":1}`:                  false,
		`{"name":"a","count":1,"when":5,"data":1}`:                       false, // a time is a string
	} {
		if err := check("sample", schema, []byte(body)); (err == nil) != ok {
			t.Errorf("%s: valid %v, want %v (%v)", body, err == nil, ok, err)
		}
	}
	// An answer of several types is any one of them.
	pages := answerSchema(anyOf{dataOf[statusAnswer]{}, dataOf[sample]{}})
	for body, ok := range map[string]bool{
		`{"data":[]}`:                true,
		`{"data":[{"status":"ok"}]}`: true,
		`{"data":[{"name":"a","count":1,"when":null,"data":1}]}`: true,
		`{"data":[{"name":"a"}]}`:                                false,
	} {
		if err := check("anyOf", pages, []byte(body)); (err == nil) != ok {
			t.Errorf("%s: valid %v, want %v (%v)", body, err == nil, ok, err)
		}
	}
}
