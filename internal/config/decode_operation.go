package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// operation decodes `operation NAME { … }`.
func (d *decoder) operation(in *Integration, pos Pos, name string, body []*Entry) *Operation {
	op := &Operation{Pos: pos, Name: name, BodyType: "json"}
	what := "operation " + name
	bodyTypePos := pos
	settings := map[string]setting{
		"description": func(e *Entry) { op.Description, _ = d.str(e) },
		"method":      func(e *Entry) { d.operationMethod(op, e) },
		"path":        func(e *Entry) { d.operationPath(op, e) },
		"query": func(e *Entry) {
			// A string is a GraphQL document; a block declares query parameters.
			if _, isString := e.Value.Single().(*String); isString {
				d.graphQLDocument(op, what, "query", e)
				return
			}
			op.Query = d.fieldBlock(e, true)
		},
		"mutation": func(e *Entry) { d.graphQLDocument(op, what, "mutation", e) },
		"variables": func(e *Entry) {
			if op.GraphQL == nil {
				op.GraphQL = &GraphQL{}
			}
			op.GraphQL.Variables = d.fieldBlock(e, true)
		},
		"body":    func(e *Entry) { op.Body = d.fieldBlock(e, true) },
		"headers": func(e *Entry) { op.Headers = d.headers(e) },
		"body_type": func(e *Entry) {
			bt, ok := d.name(e, bodyTypes)
			if ok && !slices.Contains([]string{"json", "form", "xml", "binary", BodyTypeAvro, BodyTypeProtobuf}, bt) {
				d.expect(e, bodyTypes)
				return
			}
			op.BodyType, bodyTypePos = bt, e.KeyPos
		},
		"format":        func(e *Entry) { op.Format = &Option{Pos: e.KeyPos, Key: e.Key, Value: d.optionValue(e.Value)} },
		"returns":       func(e *Entry) { op.Returns = d.typeOf(e.Key, d.words(e.Value), false) },
		"cache":         func(e *Entry) { op.Cache, _ = d.duration(e) },
		"timeout":       func(e *Entry) { op.Timeout, _ = d.positiveDuration(e) },
		"success_codes": func(e *Entry) { op.SuccessCodes = d.statusCodes(e) },
		"slo":           func(e *Entry) { op.SLO = d.slo(e) },
		"cost":          func(e *Entry) { op.Cost = d.cost(e) },
	}
	maps.Copy(settings, d.operationSocket(op))
	d.block(what, body, settings)
	if op.BodyType == "xml" && len(op.Body) > 1 {
		d.rep.errorf(op.Body[1].Pos, "%s: a body_type: xml body is one XML document, so it takes one field, its root element (%s); found %d", what, op.Body[0].Name, len(op.Body))
	}
	d.operationFormat(op, what, bodyTypePos)
	if op.GraphQL != nil {
		if op.GraphQL.Document == "" {
			d.rep.errorf(pos, "%s: variables given without a query: or mutation: document", what)
		}
		if op.Method == "" {
			op.Method = "POST"
		}
	}
	return op
}

// The body types whose codec an operation's `format` declares.
const (
	BodyTypeAvro     = "avro"
	BodyTypeProtobuf = "protobuf"
)

const bodyTypes = "json, form, xml, binary, avro or protobuf"

// operationFormat checks what it can of an operation's `format` declaration without
// the codecs: that body_type: avro and protobuf have one and the other body types
// none, that its type (which may be left out) is the body type, and that it names no
// schema registry. The files and schemas are checked by package integration, which
// builds the codec.
func (d *decoder) operationFormat(op *Operation, what string, bodyTypePos Pos) {
	coded := op.BodyType == BodyTypeAvro || op.BodyType == BodyTypeProtobuf
	switch {
	case coded && op.Format == nil && op.BodyType == BodyTypeAvro:
		d.rep.errorf(bodyTypePos, "%s: body_type: avro needs the Avro schema: format: { schema_file: \"order.avsc\" } (or schema: { … })", what)
		return
	case coded && op.Format == nil:
		d.rep.errorf(bodyTypePos, "%s: body_type: protobuf needs the message type: format: { descriptor_set: \"shop.binpb\", message: \"shop.Order\" }", what)
		return
	case coded && op.GraphQL != nil:
		d.rep.errorf(bodyTypePos, "%s: a GraphQL document is sent as JSON; body_type: %s does not apply", what, op.BodyType)
		return
	case op.Format == nil:
		return
	case !coded:
		d.rep.errorf(op.Format.Pos, "%s: format declares the codec of body_type: avro or protobuf; this operation's body_type is %s", what, op.BodyType)
		return
	}
	typ, typPos := op.Format.Value, op.Format.Pos
	if block, ok := op.Format.Value.(Options); ok {
		typ = nil
		if e, ok := block.Get("type"); ok {
			typ, typPos = e.Value, e.Pos
		}
		if e, ok := block.Get("registry"); ok {
			d.rep.errorf(e.Pos, "%s: format: registry: an operation's body is plain Avro with the declared schema (schema or schema_file); a schema registry is for broker connectors", what)
		}
	}
	if typ != nil && typ != op.BodyType {
		d.rep.errorf(typPos, "%s: format: type: %v differs from body_type: %s (type may be left out)", what, typ, op.BodyType)
	}
}

// operationMethod reads `method: GET` (any case) or `method: internal`.
func (d *decoder) operationMethod(op *Operation, e *Entry) {
	m, ok := d.name(e, "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or internal")
	if !ok {
		return
	}
	switch up := strings.ToUpper(m); up {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", MethodInternal:
		op.Method = up
	default:
		d.expect(e, "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or internal")
	}
}

// operationPath reads `path: "/users/{id}"`, a template whose parameters the operation
// takes.
func (d *decoder) operationPath(op *Operation, e *Entry) {
	p, ok := d.str(e)
	if !ok {
		return
	}
	params, err := TemplateParams(p)
	switch {
	case err != nil:
		d.rep.errorf(e.Value.Words[0].Position(), "path: %v", err)
	case !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "{"):
		d.rep.errorf(e.Value.Words[0].Position(), `path: expected a path starting with "/" (or a {param} template), found %q`, p)
	default:
		op.Path, op.PathParams = p, params
	}
}

// graphQLDocument reads the document of `query: "…"` or `mutation: "…"` (kind); an
// operation has one of them.
func (d *decoder) graphQLDocument(op *Operation, what, kind string, e *Entry) {
	doc, ok := d.str(e)
	if !ok {
		return
	}
	if op.GraphQL != nil && op.GraphQL.Document != "" {
		d.rep.errorf(e.KeyPos, "%s: give either query: or mutation:, not both", what)
		return
	}
	if op.GraphQL == nil {
		op.GraphQL = &GraphQL{}
	}
	op.GraphQL.Kind, op.GraphQL.Document = kind, doc
}

func (d *decoder) statusCodes(e *Entry) []int {
	items, ok := d.list(e, "a list of HTTP status codes such as [200, 201, 204]")
	if !ok {
		return nil
	}
	var out []int
	for _, it := range items {
		n := it.Single()
		code, err := 0, fmt.Errorf("expected a status code")
		if n != nil {
			code, err = intOf(n)
		}
		if err != nil || code < 100 || code > 599 {
			d.rep.errorf(it.Pos, "%s: expected an HTTP status code from 100 to 599, found %s", e.Key, phraseText(it))
			continue
		}
		out = append(out, code)
	}
	return out
}

// TemplateParams returns the names of the {param} placeholders of a path or header
// template, in order of appearance, each once.
func TemplateParams(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '}':
			return nil, fmt.Errorf("unmatched '}' at offset %d in %q", i, s)
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '{' in %q: expected {name}", s)
			}
			name := s[i+1 : i+end]
			if !validParamName(name) {
				return nil, fmt.Errorf("invalid parameter name {%s} in %q: use only letters, digits, dots, dashes and underscores", name, s)
			}
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
			i += end
		}
	}
	return out, nil
}

func validParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentPart(s[i]) && s[i] != '-' && s[i] != '.' {
			return false
		}
	}
	return true
}
