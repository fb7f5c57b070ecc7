package integration

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/format"
	"github.com/junctionhq/junction/internal/redact"
)

// BodyParam is the parameter that carries the raw body of a `body_type: binary`
// operation, base64-encoded, when the call arrives as JSON.
const BodyParam = config.BinaryBodyParam

// headerJSON is the value of a Content-Type or Accept header, shared by every request:
// header values of an exchange are replaced, never edited in place, and each attempt
// sends a copy.
var headerJSON = []string{"application/json"}

// headerXML is headerJSON for `body_type: xml` operations.
var headerXML = []string{"application/xml"}

// prepare validates params against the operation's declaration and builds the request.
// Every problem is collected, so one answer names all of them.
func (c *client) prepare(op *operation, params map[string]any, rawBody []byte) (*exchange, error) {
	b := builder{params: params, used: make(map[string]bool, len(params))}
	x := &exchange{op: op, method: op.method, header: c.staticHeaders.Clone()}

	var target string
	switch {
	case op.graphql != nil:
		target = c.baseURL + op.path
		x.body = b.graphqlBody(op.graphql)
		x.header["Content-Type"] = headerJSON
	default:
		target = b.url(c.baseURL, op)
		if q := b.query(op.query); q != "" {
			target += "?" + q
		}
		switch {
		case op.binary:
			x.body = b.binaryBody(rawBody)
		case op.form && len(op.body) > 0:
			x.body = encodeForm(b.bodyObject(op.body))
			x.header["Content-Type"] = headerForm
		case op.codec != nil && len(op.body) > 0:
			x.body = b.codedBody(op.codec, op.body)
			x.header["Content-Type"] = op.codecType
		case op.xmlBody && len(op.body) > 0:
			x.body = b.xmlBody(op.body)
			x.header["Content-Type"] = headerXML
		case len(op.body) > 0:
			x.body = b.jsonBody(op.body)
			x.header["Content-Type"] = headerJSON
		}
	}
	if op.computes == config.ComputePresignedURL {
		b.presign(x)
	}
	for _, h := range op.headers {
		x.header.Set(h.name, b.template(h, "header "+h.name))
	}
	if c.signature != nil {
		b.sign(x, c.signature)
	}
	b.unknown(op)
	if len(b.problems) > 0 {
		return nil, invalidParams(c.name, op.name, b.problems)
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, invalidParams(c.name, op.name, []ParamError{{Param: "", Detail: fmt.Sprintf("the request URL %q is not an http(s) URL", redact.URL(target))}})
	}
	x.url = u
	if op.acceptJSON && op.computes == "" && x.header.Get("Accept") == "" {
		x.header["Accept"] = headerJSON
		switch {
		case op.xmlBody:
			x.header["Accept"] = headerXML
		case op.codec != nil:
			x.header["Accept"] = op.codecType
		}
	}
	return x, nil
}

// builder accumulates the parts of a request and the problems with the parameters.
type builder struct {
	params   map[string]any
	used     map[string]bool
	problems []ParamError
}

func (b *builder) problem(name, format string, args ...any) {
	b.problems = append(b.problems, ParamError{Param: name, Detail: fmt.Sprintf(format, args...)})
}

// take returns a parameter's value, marking it used.
func (b *builder) take(name string) (any, bool) {
	v, ok := b.params[name]
	if ok {
		b.used[name] = true
	}
	return v, ok && v != nil
}

// url fills the path template: each {param} is required and escaped as one path
// segment, except that '/' is kept (an S3 key "reports/2026/x.pdf" spans segments).
// A template that is only a parameter ("{endpoint.url}") takes a whole URL.
func (b *builder) url(base string, op *operation) string {
	if len(op.pathParams) == 1 && op.path == "{"+op.pathParams[0]+"}" {
		v, ok := b.take(op.pathParams[0])
		s, isString := v.(string)
		if !ok || !isString || !(strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) {
			b.problem(op.pathParams[0], "required: the URL to call (http:// or https://)")
			return base
		}
		return s
	}
	path := op.path
	for _, name := range op.pathParams {
		v, ok := b.take(name)
		s, scalar := scalarString(v)
		switch {
		case !ok:
			b.problem(name, "required (path parameter)")
			continue
		case !scalar || s == "":
			b.problem(name, "expected a non-empty string or number")
			continue
		}
		var segs []string
		for _, seg := range strings.Split(s, "/") {
			if seg == "." || seg == ".." {
				b.problem(name, "must not contain . or .. path segments")
				break
			}
			segs = append(segs, url.PathEscape(seg))
		}
		path = strings.ReplaceAll(path, "{"+name+"}", strings.Join(segs, "/"))
	}
	return strings.TrimSuffix(base, "/") + path
}

func (b *builder) query(fields []*config.Field) string {
	q := url.Values{}
	for _, f := range fields {
		v, ok := b.value(f)
		if !ok {
			continue
		}
		if list, isList := v.([]any); isList {
			for _, item := range list {
				s, _ := scalarString(item)
				q.Add(f.Name, s)
			}
			continue
		}
		s, scalar := scalarString(v)
		if !scalar {
			raw, _ := json.Marshal(v)
			s = string(raw)
		}
		q.Set(f.Name, s)
	}
	return q.Encode()
}

// bodyObject collects the body's fields (given, or their defaults).
func (b *builder) bodyObject(fields []*config.Field) map[string]any {
	obj := make(map[string]any, len(fields))
	for _, f := range fields {
		if v, ok := b.value(f); ok {
			obj[f.Name] = v
		}
	}
	return obj
}

func (b *builder) jsonBody(fields []*config.Field) []byte {
	out, err := json.Marshal(b.bodyObject(fields))
	if err != nil {
		b.problem("", "cannot encode the body: %v", err)
	}
	return out
}

// xmlBody is the body fields as one XML document: they must be one field, the root
// element, as the XML format writes a message (see package format).
func (b *builder) xmlBody(fields []*config.Field) []byte {
	out, err := format.XML{}.Encode(jsonNumbers(b.bodyObject(fields)))
	if err != nil {
		b.problem("", "cannot encode the body as XML: %v", err)
	}
	return out
}

// jsonNumbers gives the numbers of a parameter value (float64 or int from a caller that
// decoded JSON itself, or a default) the json.Number form the XML codec writes.
func jsonNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonNumbers(e)
		}
		return out
	}
	if s, ok := scalarString(v); ok {
		if _, isString := v.(string); !isString {
			if _, isBool := v.(bool); !isBool {
				return json.Number(s)
			}
		}
	}
	return v
}

func (b *builder) binaryBody(raw []byte) []byte {
	if raw != nil {
		return raw
	}
	v, ok := b.take(BodyParam)
	s, isString := v.(string)
	if !ok || !isString {
		b.problem(BodyParam, "required: the content, base64-encoded (or send it as the raw request body)")
		return nil
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b.problem(BodyParam, "expected base64: %v", err)
	}
	return data
}

func (b *builder) graphqlBody(g *config.GraphQL) []byte {
	vars := map[string]any{}
	for _, f := range g.Variables {
		if v, ok := b.value(f); ok {
			vars[f.Name] = v
		}
	}
	out, _ := json.Marshal(map[string]any{"query": g.Document, "variables": vars})
	return out
}

// value returns a declared field's value (given, or its default), checking its type.
func (b *builder) value(f *config.Field) (any, bool) {
	v, ok := b.take(f.Name)
	if !ok {
		switch {
		case f.HasDefault:
			return f.Default, f.Default != nil
		case f.Required:
			b.problem(f.Name, "required (%s)", describeType(f.Type))
		}
		return nil, false
	}
	if msg := checkType(f.Type, v); msg != "" {
		b.problem(f.Name, "%s", msg)
		return nil, false
	}
	return v, true
}

// template fills {param} placeholders of a header value; each is a required parameter.
func (b *builder) template(h headerTemplate, where string) string {
	tmpl := h.value
	for _, name := range h.params {
		v, ok := b.take(name)
		s, scalar := scalarString(v)
		if !ok || !scalar {
			b.problem(name, "required (used by %s)", where)
			continue
		}
		if strings.ContainsAny(s, "\r\n") {
			b.problem(name, "must not contain line breaks (used by %s)", where)
			continue
		}
		tmpl = strings.ReplaceAll(tmpl, "{"+name+"}", s)
	}
	return tmpl
}

// bodySignature is a `type: webhook` integration's `signature` block, resolved: header
// `<header>: <algorithm>=<hex HMAC of the body>` keyed with the secret the parameter
// named by secret_from (e.g. endpoint.secret) carries. The webhook deliveries of
// Junction itself sign with Standard Webhooks; this is the seed's form for direct calls.
type bodySignature struct {
	header, algorithm, param string
}

func newBodySignature(sig *config.Signature) *bodySignature {
	if sig == nil || sig.Header == "" {
		return nil
	}
	s := &bodySignature{header: sig.Header, algorithm: sig.Algorithm, param: sig.SecretFrom}
	if s.param == "" {
		s.param = "secret"
	}
	return s
}

// sign adds the body signature.
func (b *builder) sign(x *exchange, sig *bodySignature) {
	v, ok := b.take(sig.param)
	secret, isString := v.(string)
	if !ok || !isString || secret == "" {
		b.problem(sig.param, "required: the secret that signs the body (signature.secret_from)")
		return
	}
	newHash := sha256.New
	if sig.algorithm == "sha512" {
		newHash = sha512.New
	}
	mac := hmac.New(newHash, []byte(secret))
	mac.Write(x.body)
	x.header.Set(sig.header, sig.algorithm+"="+hex.EncodeToString(mac.Sum(nil)))
}

// unknown reports parameters the operation does not declare: a typo should not be
// silently dropped.
func (b *builder) unknown(op *operation) {
	var extra []string
	for name := range b.params {
		if !b.used[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) == 0 {
		return
	}
	known := knownParams(op)
	sort.Strings(extra)
	for _, name := range extra {
		b.problem(name, "unknown parameter; %s takes: %s", op.name, strings.Join(known, ", "))
	}
}

// knownParams lists every parameter an operation accepts (config.Operation.Params, the
// same list validate checks handlers' and jobs' parameters against).
func knownParams(op *operation) []string { return op.params }

// scalarString renders a scalar parameter for a URL or header.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// checkType reports how v fails to be of type t ("" when it fits).
func checkType(t *config.Type, v any) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case config.KindList:
		list, ok := v.([]any)
		if !ok {
			return "expected a list (" + describeType(t) + ")"
		}
		for i, item := range list {
			if msg := checkType(t.Elem, item); msg != "" {
				return fmt.Sprintf("item %d: %s", i, msg)
			}
		}
	case config.KindObject:
		if _, ok := v.(map[string]any); !ok {
			return "expected an object"
		}
	case config.KindEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(t.Enum, s) {
			return "expected one of " + strings.Join(t.Enum, ", ")
		}
	case config.KindScalar:
		return checkScalar(t.Name, v)
	}
	return ""
}

func checkScalar(name string, v any) string {
	switch name {
	case "integer":
		if isInteger(v) {
			return ""
		}
		return fmt.Sprintf("expected an integer, found %s", describeValue(v))
	case "decimal":
		if _, ok := number(v); ok {
			return ""
		}
		return fmt.Sprintf("expected a number, found %s", describeValue(v))
	case "boolean":
		if _, ok := v.(bool); ok {
			return ""
		}
		return fmt.Sprintf("expected true or false, found %s", describeValue(v))
	case "json":
		return ""
	default: // string, text, uuid, email, url, timestamp, date
		if _, ok := v.(string); ok {
			return ""
		}
		return fmt.Sprintf("expected a string, found %s", describeValue(v))
	}
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

func isInteger(v any) bool {
	if n, ok := v.(json.Number); ok {
		_, err := n.Int64()
		return err == nil
	}
	f, ok := number(v)
	return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
}

func describeValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	if s, ok := scalarString(v); ok {
		return s
	}
	return fmt.Sprintf("%T", v)
}

func describeType(t *config.Type) string {
	if t == nil {
		return "any"
	}
	switch t.Kind {
	case config.KindList:
		return "list of " + describeType(t.Elem)
	case config.KindObject:
		return "object"
	case config.KindEnum:
		return "one of " + strings.Join(t.Enum, ", ")
	case config.KindScalar:
		return t.Name
	}
	return string(t.Kind)
}

// paramsFromStrings converts key=value pairs into typed parameters (see
// OperationInfo.ParamsFromStrings).
func paramsFromStrings(op *operation, kv map[string]string) (map[string]any, error) {
	types := map[string]*config.Type{}
	for _, fs := range [][]*config.Field{op.query, op.body} {
		for _, f := range fs {
			types[f.Name] = f.Type
		}
	}
	if op.graphql != nil {
		for _, f := range op.graphql.Variables {
			types[f.Name] = f.Type
		}
	}
	out := make(map[string]any, len(kv))
	for k, s := range kv {
		t := types[k]
		textual := t != nil && t.Kind == config.KindScalar && t.Name != "json" && checkScalar(t.Name, s) == ""
		if t == nil || textual || t.Kind == config.KindEnum {
			out[k] = s
			continue
		}
		if t.Kind == config.KindScalar && t.Name == "boolean" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return nil, fmt.Errorf("%s: expected true or false, found %q", k, s)
			}
			out[k] = b
			continue
		}
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: expected %s, found %q", k, describeType(t), s)
		}
		out[k] = v
	}
	return out, nil
}
