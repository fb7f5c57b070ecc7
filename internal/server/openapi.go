package server

import (
	_ "embed"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/junctionhq/junction/internal/auth"
)

// route is one entry of the route table: a registered pattern and the role it needs
// ("" for a public route).
type route struct {
	pattern string
	need    auth.Role
}

// The OpenAPI 3.1 document, as far as Junction fills it in.
type (
	openAPIDoc struct {
		OpenAPI    string                          `json:"openapi"`
		Info       openAPIInfo                     `json:"info"`
		Tags       []openAPITag                    `json:"tags"`
		Paths      map[string]map[string]openAPIOp `json:"paths"`
		Components openAPIComponents               `json:"components"`
	}
	openAPIInfo struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	}
	openAPITag struct {
		Name string `json:"name"`
	}
	openAPIOp struct {
		OperationID string                     `json:"operationId"`
		Tags        []string                   `json:"tags"`
		Summary     string                     `json:"summary"`
		Description string                     `json:"description,omitempty"`
		Parameters  []openAPIParam             `json:"parameters,omitempty"`
		RequestBody *openAPIBody               `json:"requestBody,omitempty"`
		Responses   map[string]openAPIResponse `json:"responses"`
		Security    []map[string][]string      `json:"security"`
		Role        string                     `json:"x-junction-role,omitempty"`
	}
	openAPIParam struct {
		Name        string         `json:"name"`
		In          string         `json:"in"`
		Required    bool           `json:"required"`
		Description string         `json:"description,omitempty"`
		Schema      map[string]any `json:"schema"`
	}
	openAPIBody struct {
		Description string                      `json:"description"`
		Required    bool                        `json:"required"`
		Content     map[string]openAPIMediaType `json:"content"`
	}
	// openAPIMediaType's Schema is nil for content of any kind, which has none; a JSON
	// body or answer of any shape has the empty schema, {}.
	openAPIMediaType struct {
		Schema any `json:"schema,omitempty"`
	}
	openAPIResponse struct {
		Description string                      `json:"description"`
		Content     map[string]openAPIMediaType `json:"content,omitempty"`
	}
	openAPIComponents struct {
		Schemas         map[string]any `json:"schemas"`
		SecuritySchemes map[string]any `json:"securitySchemes"`
	}
)

var (
	pathParamRE = regexp.MustCompile(`\{([A-Za-z_]+)(\.\.\.)?\}`)
	// anyMethod is what a pattern without a method answers: the proxy's methods.
	anyMethod = []string{"get", "head", "post", "put", "patch", "delete", "options"}
)

// problemSchema is RFC 9457's problem document as Junction writes it.
var problemSchema = map[string]any{
	"type":     "object",
	"required": []string{"type", "title", "status"},
	"properties": map[string]any{
		"type":     map[string]any{"type": "string"},
		"title":    map[string]any{"type": "string"},
		"status":   map[string]any{"type": "integer"},
		"detail":   map[string]any{"type": "string"},
		"instance": map[string]any{"type": "string"},
		"errors": map[string]any{"type": "array", "items": map[string]any{
			"type":       "object",
			"properties": map[string]any{"field": map[string]any{"type": "string"}, "detail": map[string]any{"type": "string"}},
		}},
	},
}

// openAPIDocument builds the document from the route table and apiDocs.
func (s *Server) openAPIDocument() openAPIDoc {
	doc := openAPIDoc{
		OpenAPI: "3.1.0",
		Info: openAPIInfo{Title: "Junction", Version: s.version,
			Description: "Junction's HTTP API. Authenticate with `Authorization: Bearer <token>` (junction token create); errors are RFC 9457 problem documents."},
		Paths: map[string]map[string]openAPIOp{},
		Components: openAPIComponents{
			Schemas:         map[string]any{"Problem": problemSchema},
			SecuritySchemes: map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		},
	}
	var tags []string
	for _, rt := range s.routeTable {
		d, ok := apiDocs[rt.pattern]
		if !ok {
			continue // TestEveryRouteIsDocumented keeps this from happening
		}
		method, path, found := strings.Cut(rt.pattern, " ")
		if !found {
			method, path = "", rt.pattern
		}
		path = strings.TrimSuffix(path, "{$}") // "exactly this path" in a ServeMux pattern
		variants := d.Variants
		if len(variants) == 0 {
			d.Path = path
			variants = []apiDoc{d}
		}
		for _, v := range variants {
			methods := []string{strings.ToLower(method)}
			if method == "" {
				methods = anyMethod
			}
			for _, m := range methods {
				p := pathParamRE.ReplaceAllString(v.Path, "{$1}")
				if doc.Paths[p] == nil {
					doc.Paths[p] = map[string]openAPIOp{}
				}
				doc.Paths[p][m] = openAPIOperation(m, v, rt.need)
				if !slices.Contains(tags, v.Tag) {
					tags = append(tags, v.Tag)
				}
			}
		}
	}
	for _, t := range tags {
		doc.Tags = append(doc.Tags, openAPITag{Name: t})
	}
	return doc
}

func openAPIOperation(method string, d apiDoc, need auth.Role) openAPIOp {
	op := openAPIOp{
		OperationID: method + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "", "-", "_").Replace(d.Path),
		Tags:        []string{d.Tag},
		Summary:     d.Summary,
		Description: d.Description,
		Security:    []map[string][]string{},
		Responses:   map[string]openAPIResponse{},
	}
	for _, m := range pathParamRE.FindAllStringSubmatch(d.Path, -1) {
		desc := ""
		if m[2] != "" {
			desc = "the rest of the path, slashes included"
		}
		op.Parameters = append(op.Parameters, openAPIParam{Name: m[1], In: "path", Required: true, Description: desc, Schema: map[string]any{"type": "string"}})
	}
	for _, q := range d.Query {
		op.Parameters = append(op.Parameters, openAPIParam{Name: q.Name, In: "query", Description: q.Description, Schema: map[string]any{"type": "string"}})
	}
	// A GET, HEAD or OPTIONS has no body (it only documents the proxy's methods).
	if (d.Request != nil || d.RawBody) && method != "get" && method != "head" && method != "options" {
		op.RequestBody = &openAPIBody{Description: d.Body, Required: !d.BodyOptional, Content: map[string]openAPIMediaType{}}
		if d.Request != nil {
			op.RequestBody.Content["application/json"] = openAPIMediaType{Schema: requestSchemaOf(reflect.TypeOf(d.Request))}
		}
		if d.RawBody {
			op.RequestBody.Content["*/*"] = openAPIMediaType{}
		}
	}
	success := d.Success
	if success == 0 {
		success = http.StatusOK
	}
	if d.Passthrough {
		op.Responses["2XX"] = openAPIResponse{Description: "the upstream's answer, with its Content-Type"}
		op.Responses["4XX"] = openAPIResponse{Description: "the upstream's refusal as it sent it, or Junction's own (a problem document)"}
		op.Responses["5XX"] = openAPIResponse{Description: "the upstream's failure as it sent it, or Junction's own (a problem document: circuit open, timeout, unreachable)"}
	} else {
		for _, code := range append([]int{success}, d.Also...) {
			ok := openAPIResponse{Description: http.StatusText(code)}
			switch {
			case code == http.StatusNoContent || code == http.StatusSwitchingProtocols:
			case len(d.Produces) > 0:
				ok.Content = map[string]openAPIMediaType{}
				for _, mt := range d.Produces {
					ok.Content[mt] = openAPIMediaType{}
				}
			default:
				ok.Content = map[string]openAPIMediaType{"application/json": {Schema: answerSchema(d.answer(code))}}
			}
			op.Responses[strconv.Itoa(code)] = ok
		}
	}
	problem := map[string]openAPIMediaType{"application/problem+json": {Schema: map[string]any{"$ref": "#/components/schemas/Problem"}}}
	op.Responses["default"] = openAPIResponse{Description: "a problem document (4xx, 5xx)", Content: problem}
	if need != "" {
		op.Security = []map[string][]string{{"bearer": {}}}
		op.Role = string(need)
		op.Responses["401"] = openAPIResponse{Description: "no token, or an unknown or revoked one", Content: problem}
		if need == auth.RoleAdmin {
			op.Responses["403"] = openAPIResponse{Description: "the token's role is not admin", Content: problem}
		}
	}
	return op
}

// answer is the type of the answer with status code: nil when it has none.
func (d apiDoc) answer(code int) any {
	if a, ok := d.Answers[code]; ok {
		return a
	}
	return d.Response
}

// answerSchema is the schema of an answer of v's type (see schemaOf); of any shape when
// v is nil, which TestAnswersAreDocumented keeps from happening.
func answerSchema(v any) map[string]any {
	switch v := v.(type) {
	case nil:
		return map[string]any{}
	case anyOf:
		alternatives := make([]any, len(v))
		for i, a := range v {
			alternatives[i] = schemaOf(reflect.TypeOf(a))
		}
		return map[string]any{"anyOf": alternatives}
	}
	return schemaOf(reflect.TypeOf(v))
}

// openAPI serves the document.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, s.openAPIDocument())
}

//go:embed docs.html
var docsPage []byte

// apiDocsPage serves the reference page; it renders /openapi.json in the browser, with
// nothing fetched from elsewhere.
func (s *Server) apiDocsPage(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'")
	_, err := w.Write(docsPage)
	return err
}
