package config

import (
	"sort"
	"strings"
)

// scalarTypes maps every accepted scalar type name to its canonical name.
var scalarTypes = map[string]string{
	"string": "string", "text": "text",
	"integer": "integer", "int": "integer",
	"decimal": "decimal", "float": "decimal", "number": "decimal",
	"boolean": "boolean", "bool": "boolean",
	"json": "json", "object": "json", "any": "json",
	"timestamp": "timestamp", "datetime": "timestamp", "date": "date",
	"uuid": "uuid", "email": "email", "url": "url",
}

func scalarNames() string {
	names := keys(scalarTypes)
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// fieldBlock reads `{ name: type[, required | optional | default(v)] … }`. withModifiers
// is false for shapes (returns), whose members only have types.
func (d *decoder) fieldBlock(e *Entry, withModifiers bool) []*Field {
	_, entries, ok := d.object(e)
	if !ok {
		return nil
	}
	return d.fields(entries, withModifiers)
}

func (d *decoder) fields(entries []*Entry, withModifiers bool) []*Field {
	var out []*Field
	seen := map[string]Pos{}
	for _, fe := range entries {
		if first, dup := seen[fe.Key]; dup {
			d.rep.errorf(fe.KeyPos, "field %s is declared twice (first at line %d)", fe.Key, first.Line)
			continue
		}
		seen[fe.Key] = fe.KeyPos
		if f := d.field(fe, withModifiers); f != nil {
			out = append(out, f)
		}
	}
	return out
}

// field reads one `name: type, modifiers…` declaration (or colon-less `name type`).
func (d *decoder) field(e *Entry, withModifiers bool) *Field {
	ph := d.words(e.Value)
	f := &Field{Pos: e.KeyPos, Name: e.Key}
	if f.Type = d.typeOf(e.Key, &Phrase{Pos: ph.Pos, Words: ph.Words}, true); f.Type == nil {
		return nil
	}
	optional := false
	for _, m := range ph.Modifiers {
		switch {
		case !withModifiers && len(m) == 1 && isWord(m[0], "optional"):
			optional = true // a member the answer may leave out (the contract check accepts its absence)
		case !withModifiers:
			d.rep.errorf(m[0].Position(), "%s: a shape member has only a type (and may be optional), found modifier %s", e.Key, wordsText(m))
		case len(m) != 1:
			d.rep.errorf(m[0].Position(), "%s: expected one modifier (required, optional or default(…)) between commas, found %s", e.Key, wordsText(m))
		default:
			optional = d.fieldModifier(e.Key, f, m[0]) || optional
		}
	}
	f.Optional = optional
	if f.Required && (optional || f.HasDefault) {
		d.rep.errorf(e.KeyPos, "%s: a required field cannot also be optional or have a default", e.Key)
	}
	return f
}

// fieldModifier applies the modifier n to f: required, default(v), or optional, for
// which it returns true.
func (d *decoder) fieldModifier(key string, f *Field, n Node) (optional bool) {
	switch n := n.(type) {
	case *Ident:
		switch n.Name {
		case "required":
			f.Required = true
			return false
		case "optional":
			return true
		}
	case *Call:
		if n.Name == "default" && len(n.Args) == 1 && n.Args[0].Single() != nil {
			if v, ok := d.jsonValue(key, n.Args[0].Single()); ok {
				f.Default, f.HasDefault = v, true
			}
			return false
		}
	}
	d.rep.errorf(n.Position(), "%s: unknown modifier %s: expected required, optional or default(…)", key, Text(n))
	return false
}

// typeOf reads a type: a scalar name, list(T), [T], enum(a, b), binary, void or a shape
// { member: type … }. Scalars, binary and void are allowed only where asField says so
// (void and binary only for returns).
func (d *decoder) typeOf(key string, ph *Phrase, asField bool) *Type {
	n := ph.Single()
	if n == nil {
		d.rep.errorf(ph.Pos, "%s: expected a type such as string, integer, list(string) or { … }, found %s", key, phraseText(ph))
		return nil
	}
	switch v := n.(type) {
	case *Ident:
		return d.namedType(key, v, asField)
	case *Call:
		return d.typeCall(key, v)
	case *List:
		// YAML's natural way to say list(T): [T].
		if len(v.Items) == 1 {
			return listOf(d.typeOf(key, d.words(v.Items[0]), true))
		}
	case *Object:
		return &Type{Kind: KindObject, Fields: d.fields(v.Entries, false)}
	}
	d.rep.errorf(n.Position(), "%s: expected a type such as string, integer, list(string) or { … }, found %s", key, Text(n))
	return nil
}

// namedType reads a type written as a name: a scalar, binary, void, or array (a list of
// any JSON values).
func (d *decoder) namedType(key string, v *Ident, asField bool) *Type {
	switch {
	case v.Name == "binary":
		return &Type{Kind: KindBinary}
	case v.Name == "void" && !asField:
		return &Type{Kind: KindVoid}
	case v.Name == "array":
		return &Type{Kind: KindList, Elem: &Type{Kind: KindScalar, Name: "json"}}
	}
	if canon, ok := scalarTypes[v.Name]; ok {
		return &Type{Kind: KindScalar, Name: canon}
	}
	msg := "unknown type " + v.Name
	if s := suggest(v.Name, append(keys(scalarTypes), "binary", "array")); s != "" {
		msg += "; did you mean " + s + "?"
	} else {
		msg += "; expected one of " + scalarNames() + ", binary, list(T), enum(…) or { … }"
	}
	d.rep.errorAtf(v.P, "%s: %s", key, msg)
	return nil
}

// typeCall reads list(T) or enum(a, b, …).
func (d *decoder) typeCall(key string, v *Call) *Type {
	switch {
	case v.Name == "list" && len(v.Args) == 1:
		return listOf(d.typeOf(key, v.Args[0], true))
	case v.Name == "enum" && len(v.Args) > 0:
		return d.enumType(key, v.Args)
	}
	d.rep.errorf(v.P, "%s: expected list(T) or enum(a, b, …), found %s", key, Text(v))
	return nil
}

// listOf is the type list(elem); nil when elem is (it had errors).
func listOf(elem *Type) *Type {
	if elem == nil {
		return nil
	}
	return &Type{Kind: KindList, Elem: elem}
}

// enumType reads the values of enum(a, "b", …): names or strings.
func (d *decoder) enumType(key string, args []*Phrase) *Type {
	t := &Type{Kind: KindEnum}
	for _, a := range args {
		switch w := a.Single().(type) {
		case *Ident:
			t.Enum = append(t.Enum, w.Name)
		case *String:
			t.Enum = append(t.Enum, w.Value)
		default:
			d.rep.errorf(a.Pos, "%s: enum values are names or strings, found %s", key, phraseText(a))
			return nil
		}
	}
	return t
}
