package format

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// XML is the XML codec (see the package comment for how XML maps onto trees). The zero
// value is ready to use.
type XML struct {
	// Arrays names elements that are always decoded as arrays, even when an element
	// holds only one of them.
	Arrays []string
}

// maxXMLDepth is how deeply elements may nest, the same bound as JSON messages have.
const maxXMLDepth = 10000

// Text and attribute members of an element's object.
const (
	textMember     = "#text"
	attrPrefix     = "@"
	xmlDeclaration = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
)

// ContentType is application/xml.
func (XML) ContentType() string { return "application/xml" }

// element is an element being decoded: its attributes and children so far, and its text.
type element struct {
	name     string
	members  map[string]any // attributes and children; nil until there is one
	children bool
	text     strings.Builder
}

// Decode parses one XML document into a tree.
func (x XML) Decode(b []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = charset.NewReaderLabel
	var (
		stack []*element
		root  map[string]any
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, xmlError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, fmt.Errorf("invalid XML: a second root element <%s> on line %d", qualified(t.Name), line(d))
			}
			if len(stack) >= maxXMLDepth {
				return nil, fmt.Errorf("invalid XML: elements nested deeper than %d on line %d", maxXMLDepth, line(d))
			}
			e := &element{name: qualified(t.Name)}
			for _, a := range t.Attr {
				if e.members == nil {
					e.members = make(map[string]any, len(t.Attr))
				}
				e.members[attrPrefix+qualified(a.Name)] = a.Value
			}
			if n := len(stack); n > 0 {
				stack[n-1].children = true
			}
			stack = append(stack, e)
		case xml.EndElement:
			// RawToken leaves matching the tags to its caller.
			n := len(stack)
			if n == 0 {
				return nil, fmt.Errorf("invalid XML: unexpected </%s> on line %d", qualified(t.Name), line(d))
			}
			e := stack[n-1]
			if name := qualified(t.Name); name != e.name {
				return nil, fmt.Errorf("invalid XML: element <%s> closed by </%s> on line %d", e.name, name, line(d))
			}
			stack = stack[:n-1]
			if n == 1 {
				root = map[string]any{e.name: e.value()} // one root: never an array
			} else {
				parent := stack[n-2]
				if parent.members == nil {
					parent.members = map[string]any{}
				}
				x.add(parent.members, e.name, e.value())
			}
		case xml.CharData:
			if n := len(stack); n > 0 {
				stack[n-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("invalid XML: text outside the root element on line %d", line(d))
			}
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("invalid XML: element <%s> is not closed at the end of the document", stack[len(stack)-1].name)
	}
	if root == nil {
		return nil, errors.New("invalid XML: no root element")
	}
	return root, nil
}

// add puts a child's value into its parent's members: a second child of one name turns
// the member into an array, as does a name listed in Arrays. Element values are never
// arrays themselves, so an array member is always one of repeated children.
func (x XML) add(members map[string]any, name string, v any) {
	prev, ok := members[name]
	switch {
	case !ok && slices.Contains(x.Arrays, name):
		members[name] = []any{v}
	case !ok:
		members[name] = v
	default:
		if list, isList := prev.([]any); isList {
			members[name] = append(list, v)
		} else {
			members[name] = []any{prev, v}
		}
	}
}

// value is what an element becomes in the tree.
func (e *element) value() any {
	text := e.text.String()
	if e.children {
		text = strings.TrimSpace(text)
	}
	if e.members == nil {
		return text
	}
	if text != "" {
		e.members[textMember] = text
	}
	return e.members
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func line(d *xml.Decoder) int {
	l, _ := d.InputPos()
	return l
}

func xmlError(err error) error {
	var syn *xml.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid XML: %s on line %d", syn.Msg, syn.Line)
	}
	return fmt.Errorf("invalid XML: %s", strings.TrimPrefix(err.Error(), "xml: "))
}

// Encode writes a tree as an XML document: v must be an object with one member, the
// root element.
func (x XML) Encode(v any) ([]byte, error) {
	root, ok := v.(map[string]any)
	if !ok || len(root) != 1 {
		return nil, errors.New("XML needs one root element: the message must be an object with exactly one member, named after it")
	}
	var w bytes.Buffer
	w.WriteString(xmlDeclaration)
	for name, value := range root {
		if _, many := value.([]any); many {
			return nil, fmt.Errorf("XML needs one root element: %q is an array", name)
		}
		if err := writeElement(&w, name, value, name); err != nil {
			return nil, err
		}
	}
	w.WriteByte('\n')
	return w.Bytes(), nil
}

// writeElement writes the element name with value v (arrays are the caller's); at is
// the value's path, for errors.
func writeElement(w *bytes.Buffer, name string, v any, at string) error {
	if !validName(name) {
		return fmt.Errorf("%s: %q is not an XML element name", at, name)
	}
	w.WriteByte('<')
	w.WriteString(name)
	switch v := v.(type) {
	case nil:
		w.WriteString("/>")
		return nil
	case map[string]any:
		return writeObject(w, name, v, at)
	default:
		s, err := scalarText(v, at)
		if err != nil {
			return err
		}
		w.WriteByte('>')
		if err := escape(w, s, false, at); err != nil {
			return err
		}
	}
	w.WriteString("</")
	w.WriteString(name)
	w.WriteByte('>')
	return nil
}

// writeObject writes the rest of element name (its start tag open) from its object.
func writeObject(w *bytes.Buffer, name string, m map[string]any, at string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var children []string
	for _, k := range keys {
		attr, isAttr := strings.CutPrefix(k, attrPrefix)
		if !isAttr {
			if k != textMember {
				children = append(children, k)
			}
			continue
		}
		path := at + "." + k
		if !validName(attr) {
			return fmt.Errorf("%s: %q is not an XML attribute name", path, attr)
		}
		s, err := scalarText(m[k], path)
		if err != nil {
			return err
		}
		w.WriteByte(' ')
		w.WriteString(attr)
		w.WriteString(`="`)
		if err := escape(w, s, true, path); err != nil {
			return err
		}
		w.WriteByte('"')
	}
	text, hasText := m[textMember]
	if !hasText && len(children) == 0 {
		w.WriteString("/>")
		return nil
	}
	w.WriteByte('>')
	if hasText {
		path := at + "." + textMember
		s, err := scalarText(text, path)
		if err != nil {
			return err
		}
		if err := escape(w, s, false, path); err != nil {
			return err
		}
	}
	for _, k := range children {
		path := at + "." + k
		if list, many := m[k].([]any); many {
			for i, e := range list {
				if _, nested := e.([]any); nested {
					return fmt.Errorf("%s[%d]: an array in an array has no XML form", path, i)
				}
				if err := writeElement(w, k, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			continue
		}
		if err := writeElement(w, k, m[k], path); err != nil {
			return err
		}
	}
	w.WriteString("</")
	w.WriteString(name)
	w.WriteByte('>')
	return nil
}

// scalarText is the text of a string, number, boolean or nil (""): what attributes and
// text can hold.
func scalarText(v any, at string) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return string(v), nil
	case bool:
		if v {
			return "true", nil
		}
		return "false", nil
	case map[string]any:
		return "", fmt.Errorf("%s: an object cannot be an attribute or text", at)
	case []any:
		return "", fmt.Errorf("%s: an array cannot be an attribute or text", at)
	default:
		return "", fmt.Errorf("%s: unsupported value of type %T", at, v)
	}
}

// escape writes s as text or as an attribute value. Characters XML 1.0 cannot carry at
// all (most control characters) are an error rather than silently replaced.
func escape(w *bytes.Buffer, s string, attr bool, at string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			return fmt.Errorf("%s: invalid UTF-8", at)
		case r == '&':
			w.WriteString("&amp;")
		case r == '<':
			w.WriteString("&lt;")
		case r == '>':
			w.WriteString("&gt;")
		case r == '\r':
			w.WriteString("&#xD;") // a literal CR would be normalised away by the reader
		case attr && r == '"':
			w.WriteString("&quot;")
		case attr && r == '\n':
			w.WriteString("&#xA;") // attribute values normalise literal line ends to spaces
		case attr && r == '\t':
			w.WriteString("&#x9;")
		case !xmlChar(r):
			return fmt.Errorf("%s: character %U cannot be written in XML 1.0", at, r)
		default:
			w.WriteRune(r)
		}
	}
	return nil
}

// xmlChar is XML 1.0's Char production.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// validName is XML's Name production (with ':' allowed, for prefixed names), for the
// letters and digits Unicode classifies as such.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == 0xB7):
		default:
			return false
		}
	}
	return true
}
