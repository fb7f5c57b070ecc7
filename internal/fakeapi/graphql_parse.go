package fakeapi

import (
	"fmt"
	"strconv"
	"strings"
)

// A small GraphQL reader: enough of the grammar (October 2021 spec) to find the
// operation, its variable definitions, and the selection tree with arguments, aliases and
// inline fragments. Named fragments, directives and default values are read and ignored
// or refused with a GraphQL error; the fake is not a GraphQL server, only a faithful
// enough counterpart for a client that sends documents written by hand.

type gqlToken struct {
	kind      byte // 'n' name, 'i' int, 'f' float, 's' string, 'p' punctuator, 0 end
	text      string
	line, col int
}

func lexGraphQL(src string) ([]gqlToken, error) {
	var toks []gqlToken
	line, col := 1, 1
	advance := func(n int) {
		for _, r := range src[:n] {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		src = src[n:]
	}
	for len(src) > 0 {
		c := src[0]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			advance(1)
		case c == '#':
			n := strings.IndexByte(src, '\n')
			if n < 0 {
				n = len(src)
			}
			advance(n)
		case strings.HasPrefix(src, "..."):
			toks = append(toks, gqlToken{kind: 'p', text: "...", line: line, col: col})
			advance(3)
		case strings.IndexByte("!$&()=:@[]{}|", c) >= 0:
			toks = append(toks, gqlToken{kind: 'p', text: string(c), line: line, col: col})
			advance(1)
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			n := 1
			for n < len(src) && (src[n] == '_' || src[n] >= 'a' && src[n] <= 'z' || src[n] >= 'A' && src[n] <= 'Z' || src[n] >= '0' && src[n] <= '9') {
				n++
			}
			toks = append(toks, gqlToken{kind: 'n', text: src[:n], line: line, col: col})
			advance(n)
		case c == '-' || c >= '0' && c <= '9':
			n, kind := 1, byte('i')
			for n < len(src) && strings.IndexByte("0123456789.eE+-", src[n]) >= 0 {
				if strings.IndexByte(".eE", src[n]) >= 0 {
					kind = 'f'
				}
				n++
			}
			toks = append(toks, gqlToken{kind: kind, text: src[:n], line: line, col: col})
			advance(n)
		case c == '"':
			if strings.HasPrefix(src, `"""`) {
				end := strings.Index(src[3:], `"""`)
				if end < 0 {
					return nil, fmt.Errorf("unterminated block string at [%d, %d]", line, col)
				}
				toks = append(toks, gqlToken{kind: 's', text: src[3 : 3+end], line: line, col: col})
				advance(end + 6)
				continue
			}
			n := 1
			for n < len(src) && src[n] != '"' && src[n] != '\n' {
				if src[n] == '\\' {
					n++
				}
				n++
			}
			if n >= len(src) || src[n] != '"' {
				return nil, fmt.Errorf("unterminated string at [%d, %d]", line, col)
			}
			s, err := strconv.Unquote(src[:n+1])
			if err != nil {
				return nil, fmt.Errorf("bad string at [%d, %d]", line, col)
			}
			toks = append(toks, gqlToken{kind: 's', text: s, line: line, col: col})
			advance(n + 1)
		default:
			return nil, fmt.Errorf("unexpected character %q at [%d, %d]", c, line, col)
		}
	}
	return append(toks, gqlToken{line: line, col: col}), nil
}

// gqlOperation is the one operation of a document.
type gqlOperation struct {
	kind      string // query, mutation, subscription
	name      string
	variables []gqlVarDef
	selection []*gqlField
}

type gqlVarDef struct {
	name    string
	typ     string // as written, e.g. "String!", "[ID!]"
	nonNull bool
}

// gqlField is a field of a selection set; the fields of an inline fragment carry its type
// condition in on.
type gqlField struct {
	alias, name string
	args        map[string]gqlValue
	selection   []*gqlField
	on          string
	line, col   int
}

// key is the member name of the field in the answer.
func (f *gqlField) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

// gqlValue is an argument value: a literal, a variable reference, or a list or object
// of values.
type gqlValue struct {
	variable string // name without $, when a reference
	literal  any    // string, int64, float64, bool, nil, enumValue, []gqlValue, map[string]gqlValue
}

type enumValue string

type gqlParser struct {
	toks []gqlToken
	pos  int
}

func (p *gqlParser) peek() gqlToken { return p.toks[p.pos] }
func (p *gqlParser) next() gqlToken {
	t := p.toks[p.pos]
	if t.kind != 0 {
		p.pos++
	}
	return t
}

func (p *gqlParser) errorf(format string, args ...any) error {
	t := p.peek()
	what := t.text
	if t.kind == 0 {
		what = "end of file"
	}
	return fmt.Errorf("parse error on %q (%s) at [%d, %d]: %s", what, tokenKind(t.kind), t.line, t.col, fmt.Sprintf(format, args...))
}

func tokenKind(k byte) string {
	return map[byte]string{'n': "IDENTIFIER", 'i': "INT", 'f': "FLOAT", 's': "STRING", 'p': "PUNCTUATOR", 0: "EOF"}[k]
}

func (p *gqlParser) expect(text string) error {
	if t := p.peek(); t.kind == 'p' && t.text == text {
		p.next()
		return nil
	}
	return p.errorf("expected %q", text)
}

func (p *gqlParser) is(text string) bool {
	t := p.peek()
	return (t.kind == 'p' || t.kind == 'n') && t.text == text
}

// parseGraphQL reads the document's single operation (named fragments are refused: the
// fixture's documents do not use them and a silent misreading would be worse).
func parseGraphQL(doc string) (*gqlOperation, error) {
	toks, err := lexGraphQL(doc)
	if err != nil {
		return nil, fmt.Errorf("parse error: %v", err)
	}
	p := &gqlParser{toks: toks}
	op := &gqlOperation{kind: "query"}
	if t := p.peek(); t.kind == 'n' {
		switch t.text {
		case "query", "mutation", "subscription":
			op.kind = t.text
			p.next()
		case "fragment":
			return nil, p.errorf("named fragments are not supported by the fake")
		default:
			return nil, p.errorf("expected an operation")
		}
		if p.peek().kind == 'n' {
			op.name = p.next().text
		}
		if p.is("(") {
			if op.variables, err = p.varDefs(); err != nil {
				return nil, err
			}
		}
	}
	if op.selection, err = p.selectionSet(); err != nil {
		return nil, err
	}
	if p.peek().kind != 0 {
		return nil, p.errorf("only one operation per document is supported by the fake")
	}
	return op, nil
}

func (p *gqlParser) varDefs() ([]gqlVarDef, error) {
	p.next() // (
	var defs []gqlVarDef
	for !p.is(")") {
		if err := p.expect("$"); err != nil {
			return nil, err
		}
		name := p.next()
		if name.kind != 'n' {
			return nil, p.errorf("expected a variable name")
		}
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		var typ strings.Builder
		depth := 0
		for {
			t := p.peek()
			if t.kind == 0 {
				return nil, p.errorf("unterminated variable type")
			}
			if t.kind == 'p' && t.text == "[" {
				depth++
			} else if t.kind == 'p' && t.text == "]" {
				depth--
			} else if t.kind != 'n' && !(t.kind == 'p' && t.text == "!") {
				return nil, p.errorf("bad variable type")
			}
			typ.WriteString(p.next().text)
			if depth == 0 && !p.is("!") && !p.is("]") {
				break
			}
		}
		if p.is("=") { // a default value: read and forget; the fake needs none
			p.next()
			if _, err := p.value(); err != nil {
				return nil, err
			}
		}
		ts := typ.String()
		defs = append(defs, gqlVarDef{name: name.text, typ: ts, nonNull: strings.HasSuffix(ts, "!")})
	}
	p.next() // )
	return defs, nil
}

func (p *gqlParser) selectionSet() ([]*gqlField, error) {
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	var fields []*gqlField
	for !p.is("}") {
		if p.peek().kind == 0 {
			return nil, p.errorf("expected \"}\"")
		}
		if p.is("...") {
			p.next()
			if !p.is("on") {
				return nil, p.errorf("fragment spreads are not supported by the fake")
			}
			p.next()
			typ := p.next()
			if typ.kind != 'n' {
				return nil, p.errorf("expected a type name")
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			for _, f := range sel {
				if f.on == "" {
					f.on = typ.text
				}
			}
			fields = append(fields, sel...)
			continue
		}
		t := p.next()
		if t.kind != 'n' {
			return nil, p.errorf("expected a field")
		}
		f := &gqlField{name: t.text, line: t.line, col: t.col}
		if p.is(":") {
			p.next()
			n := p.next()
			if n.kind != 'n' {
				return nil, p.errorf("expected a field name after the alias")
			}
			f.alias, f.name = f.name, n.text
		}
		if p.is("(") {
			p.next()
			f.args = map[string]gqlValue{}
			for !p.is(")") {
				n := p.next()
				if n.kind != 'n' {
					return nil, p.errorf("expected an argument name")
				}
				if err := p.expect(":"); err != nil {
					return nil, err
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				f.args[n.text] = v
			}
			p.next()
		}
		if p.is("@") {
			return nil, p.errorf("directives are not supported by the fake")
		}
		if p.is("{") {
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			f.selection = sel
		}
		fields = append(fields, f)
	}
	p.next() // }
	return fields, nil
}

func (p *gqlParser) value() (gqlValue, error) {
	t := p.next()
	switch {
	case t.kind == 'p' && t.text == "$":
		n := p.next()
		if n.kind != 'n' {
			return gqlValue{}, p.errorf("expected a variable name")
		}
		return gqlValue{variable: n.text}, nil
	case t.kind == 's':
		return gqlValue{literal: t.text}, nil
	case t.kind == 'i':
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return gqlValue{}, p.errorf("bad integer")
		}
		return gqlValue{literal: n}, nil
	case t.kind == 'f':
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return gqlValue{}, p.errorf("bad number")
		}
		return gqlValue{literal: f}, nil
	case t.kind == 'n':
		switch t.text {
		case "true", "false":
			return gqlValue{literal: t.text == "true"}, nil
		case "null":
			return gqlValue{}, nil
		}
		return gqlValue{literal: enumValue(t.text)}, nil
	case t.kind == 'p' && t.text == "[":
		var list []gqlValue
		for !p.is("]") {
			if p.peek().kind == 0 {
				return gqlValue{}, p.errorf("expected \"]\"")
			}
			v, err := p.value()
			if err != nil {
				return gqlValue{}, err
			}
			list = append(list, v)
		}
		p.next()
		return gqlValue{literal: list}, nil
	case t.kind == 'p' && t.text == "{":
		obj := map[string]gqlValue{}
		for !p.is("}") {
			n := p.next()
			if n.kind != 'n' {
				return gqlValue{}, p.errorf("expected a field name")
			}
			if err := p.expect(":"); err != nil {
				return gqlValue{}, err
			}
			v, err := p.value()
			if err != nil {
				return gqlValue{}, err
			}
			obj[n.text] = v
		}
		p.next()
		return gqlValue{literal: obj}, nil
	}
	p.pos--
	return gqlValue{}, p.errorf("expected a value")
}

// resolve turns an argument value into plain Go values (JSON-decoded shapes: string,
// float64/int64, bool, nil, []any, map[string]any), substituting variables.
func (v gqlValue) resolve(vars map[string]any) any {
	if v.variable != "" {
		return vars[v.variable]
	}
	switch x := v.literal.(type) {
	case []gqlValue:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = item.resolve(vars)
		}
		return out
	case map[string]gqlValue:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = item.resolve(vars)
		}
		return out
	case enumValue:
		return string(x)
	}
	return v.literal
}
