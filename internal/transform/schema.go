package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema. Schemas without "$schema" are draft 2020-12; others
// use the draft they name. "format" is asserted (an "email" that is not one is a
// problem), as most validators do. References may point into the schema itself, to the standard
// meta-schemas (built in), and — for schemas loaded from a file — to other local files;
// nothing is ever fetched over the network. A Schema is safe for concurrent use.
type Schema struct {
	schema *jsonschema.Schema
	fast   *fastNode // nil: the schema uses keywords the fast path leaves to the library
}

// inlineURL is where an inline schema lives for reference resolution: relative
// references resolve under it and are refused by the loader, instead of silently
// reading files relative to the working directory.
const inlineURL = "mem://junction/inline-schema.json"

// CompileSchema compiles an inline schema as the configuration decoder produces it
// (int64/float64 numbers) or as Decode does (json.Number).
func CompileSchema(schema any) (*Schema, error) {
	doc, err := fromConfig(schema)
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %w", err)
	}
	s, err := compileSchema(inlineURL, doc, false)
	if err != nil {
		return nil, fmt.Errorf("invalid schema: %s", strings.ReplaceAll(err.Error(), inlineURL, "schema"))
	}
	return s, nil
}

// CompileSchemaFile compiles the schema in a .json file; it may refer to other local
// files, relative to its own location.
func CompileSchemaFile(path string) (*Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	b, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	doc, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	s, err := compileSchema((&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), doc, true)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: invalid schema: %w", path, err)
	}
	return s, nil
}

func compileSchema(loc string, doc any, files bool) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	// "format" is only an annotation by default since draft 2019-09; a validate step
	// with "format": "email" is meant to reject what is not an e-mail address.
	c.AssertFormat()
	c.UseLoader(refLoader{files: files})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(loc)
	if err != nil {
		var sve *jsonschema.SchemaValidationError
		var ve *jsonschema.ValidationError
		var lue *jsonschema.LoadURLError
		switch {
		case errors.As(err, &sve) && errors.As(sve.Err, &ve):
			// the schema breaks its meta-schema: list the places, as for a document
			return nil, errors.New("does not match its meta-schema: " + problems(ve).Error())
		case errors.As(err, &lue):
			return nil, lue.Err // refLoader's errors name the reference
		}
		return nil, err
	}
	return &Schema{schema: s, fast: newFastPath(s)}, nil
}

// refLoader loads the documents a schema refers to; the meta-schemas never reach it
// (jsonschema has them built in).
type refLoader struct {
	files bool // local files may be read (the schema itself came from a file)
}

func (l refLoader) Load(ref string) (any, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme == "http" || u.Scheme == "https":
		return nil, fmt.Errorf("remote reference %s refused: schemas are never fetched over the network; put the definition under $defs or in a local file", ref)
	case u.Scheme == "file" && l.files:
		doc, err := jsonschema.FileLoader{}.Load(ref)
		if err != nil {
			return nil, fmt.Errorf("reference %s: %w", u.Path, err)
		}
		return doc, nil
	case u.Scheme == "file" || u.Scheme == "mem":
		return nil, fmt.Errorf("reference %s refused: an inline schema can refer only to itself ($defs) and the standard meta-schemas; use a schema file to refer to other files", strings.TrimPrefix(ref, "mem://junction/"))
	}
	return nil, fmt.Errorf("reference %s refused: unsupported URL scheme %q", ref, u.Scheme)
}

// Validate checks doc, a tree from Decode or Template.Apply; it returns nil or a
// *ValidationError listing every problem.
func (s *Schema) Validate(doc any) error {
	if s.fast != nil && s.fast.valid(doc, 0) {
		return nil // see schemafast.go: only ever a document the library accepts too
	}
	return s.validateLibrary(doc)
}

// validateLibrary validates with jsonschema alone. jsonschema panics on a number
// big.Rat cannot read (an exponent beyond a million, 1E1000001) when a numeric keyword
// checks it; one message must not bring the process down, so such numbers are problems.
func (s *Schema) validateLibrary(doc any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			ve := &ValidationError{}
			walkNumbers(doc, "", func(at string, n json.Number) {
				if _, ok := new(big.Rat).SetString(string(n)); !ok {
					ve.Problems = append(ve.Problems, Problem{Path: at, Message: fmt.Sprintf("number %s is out of the range that can be checked", n)})
				}
			})
			slices.SortFunc(ve.Problems, func(a, b Problem) int { return strings.Compare(a.Path, b.Path) })
			if len(ve.Problems) == 0 {
				ve.Problems = []Problem{{Message: fmt.Sprintf("cannot be checked: %v", r)}}
			}
			err = ve
		}
	}()
	err = s.schema.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if errors.As(err, &ve) {
		return problems(ve)
	}
	return err // jsonschema returns only *ValidationError; kept for safety
}

// walkNumbers calls fn with every number in v and its JSON pointer.
func walkNumbers(v any, at string, fn func(at string, n json.Number)) {
	switch v := v.(type) {
	case json.Number:
		fn(at, v)
	case []any:
		for i, e := range v {
			walkNumbers(e, at+"/"+strconv.Itoa(i), fn)
		}
	case map[string]any:
		for k, e := range v {
			walkNumbers(e, at+"/"+escapePointer(k), fn)
		}
	}
}

// ValidationError lists why a document does not match a schema.
type ValidationError struct {
	Problems []Problem
}

// Problem is one failed check: where in the document, and what is wrong.
type Problem struct {
	Path    string // JSON pointer of the value in the document, "" for the whole document
	Message string
}

// Error joins the problems: "/total: must be >= 0; /id: missing".
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		if p.Path == "" {
			b.WriteString("(document)")
		} else {
			b.WriteString(p.Path)
		}
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

var printer = message.NewPrinter(language.English)

// problems flattens jsonschema's tree of errors to its leaves — the checks that failed;
// the inner nodes only say which keyword ($ref, allOf, properties) led there. A missing
// required property becomes a problem at the property's own path. Problems are sorted
// by path, so the message is the same every time.
func problems(ve *jsonschema.ValidationError) *ValidationError {
	var out []Problem
	var visit func(*jsonschema.ValidationError)
	visit = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				visit(c)
			}
			return
		}
		at := pointer(e.InstanceLocation)
		if r, ok := e.ErrorKind.(*kind.Required); ok {
			for _, name := range r.Missing {
				out = append(out, Problem{Path: at + "/" + escapePointer(name), Message: "missing"})
			}
			return
		}
		if a, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			// listed in the document's map order, which changes from run to run
			slices.Sort(a.Properties)
		}
		out = append(out, Problem{Path: at, Message: e.ErrorKind.LocalizedString(printer)})
	}
	visit(ve)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return &ValidationError{Problems: slices.Compact(out)}
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// escapePointer escapes a reference token as RFC 6901 requires.
func escapePointer(t string) string {
	if !strings.ContainsAny(t, "~/") {
		return t
	}
	return strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
}
