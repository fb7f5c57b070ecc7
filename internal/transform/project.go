package transform

import (
	"errors"
	"fmt"
)

// This file decodes a message for one template: the first step of most flows is a
// transform, and the message it reads is dropped once the template has built its output,
// so the members of the message the template never reads need not be built at all.
// They are still checked (the grammar, the nesting limit), with the same errors at the
// same offsets as Decode reports, so a message that is not JSON fails the same way.

// projection names the top-level members a template reads: true when only the length
// of a list is read (len() in expressions), false when the value is. nil: the whole
// message.
type projection map[string]bool

// DecodeFor decodes a message for Apply of this template alone, a cheaper Decode: the
// members of a top-level object the template does not read are checked but left out,
// and a list the template only counts (len in an "=" expression) is a list of as many
// nils. Apply gives the same output and errors from it as from Decode's tree
// (FuzzDecodeFor); Decode's errors are its errors. The tree must not be used for
// anything else.
func (t *Template) DecodeFor(b []byte) (any, error) {
	return decode(b, t.reads)
}

// projection computes what a template reads (nil: the whole message).
func (t *Template) projection() projection {
	if t.whole {
		return nil
	}
	p := projection{}
	whole := false
	var visit func(n *node)
	visit = func(n *node) {
		switch n.kind {
		case pathNode:
			steps := n.path.steps
			if len(steps) == 0 || steps[0].isIndex || steps[0].wildcard || steps[0].descent {
				whole = true // "$", "$[0]", "$.*", "$..x", and paths ojg evaluates (filters)
				return
			}
			p[steps[0].key] = false
		case objectNode, listNode:
			for _, c := range n.children {
				visit(c)
			}
		}
	}
	visit(t.root)
	for _, f := range t.fields {
		if f.name == "$" {
			whole = true
		}
		if counted, seen := p[f.name]; !seen || counted {
			p[f.name] = f.counted
		}
	}
	if whole {
		return nil
	}
	return p
}

// decode is Decode, reading only the members p names of a top-level object.
func decode(b []byte, p projection) (any, error) {
	d := decoderPool.Get().(*decoder)
	defer d.release()
	d.buf, d.pos = b, 0
	d.skipSpace()
	if d.pos == len(b) {
		return nil, errors.New("invalid JSON: empty input")
	}
	var v any
	var err error
	if p != nil && b[d.pos] == '{' {
		v, err = d.projectedObject(p)
	} else {
		v, err = d.value(0)
	}
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos < len(b) {
		return nil, fmt.Errorf("invalid JSON: data after the value at offset %d", d.pos)
	}
	return v, nil
}

// projectedObject is object at the top level, building only the members p names.
func (d *decoder) projectedObject(p projection) (any, error) {
	d.pos++ // {
	d.skipSpace()
	obj := make(map[string]any, len(p))
	if d.at('}') {
		d.pos++
		return obj, nil
	}
	for {
		if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
			return nil, d.fail("expected a member name, found")
		}
		key, err := d.key()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
			return nil, d.fail("expected ':' after a member name, found")
		}
		d.pos++
		d.skipSpace()
		if err := d.projectedMember(p, obj, key); err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',':
				d.pos++
				d.skipSpace()
				continue
			case '}':
				d.pos++
				return obj, nil
			}
		}
		return nil, d.fail("expected ',' or '}' in an object, found")
	}
}

// projectedMember reads the value of the member key into obj as p says: skipped when
// not read, a list of nils when only counted, else whole.
func (d *decoder) projectedMember(p projection, obj map[string]any, key string) error {
	const depth = 1 // as value(0) calls object(1)
	counted, read := p[key]
	switch {
	case !read:
		return d.skip(depth)
	case counted && d.at('['):
		n, err := d.skipArray(depth + 1)
		if err == nil {
			obj[key] = make([]any, n)
		}
		return err
	}
	v, err := d.value(depth)
	if err == nil {
		obj[key] = v
	}
	return err
}

// skip moves past the value at d.pos as value would parse it, with its errors.
func (d *decoder) skip(depth int) error {
	if d.pos >= len(d.buf) {
		return d.fail("")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.skipObject(depth + 1)
	case c == '[':
		_, err := d.skipArray(depth + 1)
		return err
	case c == '"':
		return d.skipString()
	case c == '-' || c >= '0' && c <= '9':
		return d.skipNumber()
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	}
	return d.fail("unexpected character")
}

func (d *decoder) skipObject(depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("invalid JSON: nested deeper than %d at offset %d", maxDepth, d.pos)
	}
	d.pos++ // {
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		if d.pos >= len(d.buf) || d.buf[d.pos] != '"' {
			return d.fail("expected a member name, found")
		}
		if err := d.skipString(); err != nil {
			return err
		}
		d.skipSpace()
		if d.pos >= len(d.buf) || d.buf[d.pos] != ':' {
			return d.fail("expected ':' after a member name, found")
		}
		d.pos++
		d.skipSpace()
		if err := d.skip(depth); err != nil {
			return err
		}
		d.skipSpace()
		if d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',':
				d.pos++
				d.skipSpace()
				continue
			case '}':
				d.pos++
				return nil
			}
		}
		return d.fail("expected ',' or '}' in an object, found")
	}
}

// skipArray moves past an array, returning its length.
func (d *decoder) skipArray(depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("invalid JSON: nested deeper than %d at offset %d", maxDepth, d.pos)
	}
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		return 0, nil
	}
	n := 0
	for {
		if err := d.skip(depth); err != nil {
			return 0, err
		}
		n++
		d.skipSpace()
		if d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',':
				d.pos++
				d.skipSpace()
				continue
			case ']':
				d.pos++
				return n, nil
			}
		}
		return 0, d.fail("expected ',' or ']' in an array, found")
	}
}

// skipString moves past a string as string and slowString read it, with their errors:
// a control character, an invalid escape, an unterminated string. Invalid UTF-8 and
// lone surrogates are not errors (they are replaced when the string is built).
func (d *decoder) skipString() error {
	d.pos++ // "
	for d.pos < len(d.buf) {
		switch c := d.buf[d.pos]; {
		case c == '"':
			d.pos++
			return nil
		case c < ' ':
			return d.fail("control character")
		case c == '\\':
			d.pos++
			if d.pos >= len(d.buf) {
				return d.fail("")
			}
			switch d.buf[d.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if _, ok := d.hex4(d.pos + 1); !ok {
					return fmt.Errorf("invalid JSON: invalid \\u escape at offset %d", d.pos-1)
				}
				d.pos += 4
			default:
				return d.fail("invalid escape character")
			}
		}
		d.pos++
	}
	return d.fail("")
}
