package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the parser behind Decode (see its comment for why Junction has one).

// maxDepth is encoding/json's nesting limit: deeper documents are refused rather than
// recursed into.
const maxDepth = 10000

// decoderPool keeps decoders with their scratch space between messages.
var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

type decoder struct {
	buf []byte
	pos int
	// members and elements collect the contents of the objects and arrays being
	// parsed, so each map and slice is allocated once at its final size.
	members  []member
	elements []any
}

// release returns d to the pool, holding no part of the message (a failed parse leaves
// entries behind), unless one huge message grew its scratch space.
func (d *decoder) release() {
	d.buf = nil
	clear(d.members)
	clear(d.elements)
	d.members, d.elements = d.members[:0], d.elements[:0]
	if cap(d.members) > 1<<12 || cap(d.elements) > 1<<12 {
		return
	}
	decoderPool.Put(d)
}

type member struct {
	key   string
	value any
}

func (d *decoder) fail(what string) error {
	if d.pos >= len(d.buf) {
		return errors.New("invalid JSON: unexpected end of input")
	}
	return fmt.Errorf("invalid JSON: %s %s at offset %d", what, quoteByte(d.buf[d.pos]), d.pos)
}

func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte %#x", c)
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value parses the value starting at d.pos (white space already skipped).
func (d *decoder) value(depth int) (any, error) {
	if d.pos >= len(d.buf) {
		return nil, d.fail("")
	}
	switch c := d.buf[d.pos]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		return d.string()
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.fail("unexpected character")
}

func (d *decoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if d.pos >= len(d.buf) || d.buf[d.pos] != word[i] {
			return d.fail("unexpected character")
		}
		d.pos++
	}
	return nil
}

func (d *decoder) object(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("invalid JSON: nested deeper than %d at offset %d", maxDepth, d.pos)
	}
	d.pos++ // {
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == '}' {
		d.pos++
		return map[string]any{}, nil
	}
	base := len(d.members)
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
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, member{key, v})
		d.skipSpace()
		if d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',':
				d.pos++
				d.skipSpace()
				continue
			case '}':
				d.pos++
				members := d.members[base:]
				obj := make(map[string]any, len(members))
				for _, m := range members {
					obj[m.key] = m.value
				}
				clear(members) // keep no references to the message
				d.members = d.members[:base]
				return obj, nil
			}
		}
		return nil, d.fail("expected ',' or '}' in an object, found")
	}
}

func (d *decoder) array(depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("invalid JSON: nested deeper than %d at offset %d", maxDepth, d.pos)
	}
	d.pos++ // [
	d.skipSpace()
	if d.pos < len(d.buf) && d.buf[d.pos] == ']' {
		d.pos++
		return []any{}, nil
	}
	base := len(d.elements)
	for {
		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}
		d.elements = append(d.elements, v)
		d.skipSpace()
		if d.pos < len(d.buf) {
			switch d.buf[d.pos] {
			case ',':
				d.pos++
				d.skipSpace()
				continue
			case ']':
				d.pos++
				list := slices.Clone(d.elements[base:])
				clear(d.elements[base:])
				d.elements = d.elements[:base]
				return list, nil
			}
		}
		return nil, d.fail("expected ',' or ']' in an array, found")
	}
}

// number checks the JSON number grammar and keeps the literal as a json.Number.
func (d *decoder) number() (any, error) {
	start := d.pos
	if err := d.skipNumber(); err != nil {
		return nil, err
	}
	return json.Number(d.buf[start:d.pos]), nil
}

// skipNumber moves past a number, checking its grammar.
func (d *decoder) skipNumber() error {
	if d.buf[d.pos] == '-' {
		d.pos++
	}
	switch {
	case d.at('0'):
		d.pos++
	case d.digits(): // 1-9 and the digits after it
	default:
		return d.fail("expected a digit, found")
	}
	if d.at('.') {
		d.pos++
		if !d.digits() {
			return d.fail("expected a digit after '.', found")
		}
	}
	if d.at('e') || d.at('E') {
		d.pos++
		if d.at('+') || d.at('-') {
			d.pos++
		}
		if !d.digits() {
			return d.fail("expected a digit in the exponent, found")
		}
	}
	return nil
}

// at reports whether the byte at d.pos is c.
func (d *decoder) at(c byte) bool {
	return d.pos < len(d.buf) && d.buf[d.pos] == c
}

func (d *decoder) digits() bool {
	start := d.pos
	for d.pos < len(d.buf) && d.buf[d.pos] >= '0' && d.buf[d.pos] <= '9' {
		d.pos++
	}
	return d.pos > start
}

// key parses a member name. Messages of a flow repeat the same names, so names without
// escapes come from keyCache: a small table, shared by all decoders, holding the last
// name seen per hash slot. A hit costs a hash and a comparison instead of an allocation.
func (d *decoder) key() (string, error) {
	start := d.pos + 1
	end := start
	for end < len(d.buf) && end-start <= maxCachedKey {
		c := d.buf[end]
		if c == '"' {
			break
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			return d.string()
		}
		end++
	}
	if end >= len(d.buf) || d.buf[end] != '"' {
		return d.string() // long, or unterminated: string reports it
	}
	name := d.buf[start:end]
	var h uint32 = 2166136261 // FNV-1a
	for _, c := range name {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &keyCache[h%uint32(len(keyCache))]
	if p := slot.Load(); p != nil && *p == string(name) {
		d.pos = end + 1
		return *p, nil
	}
	s := string(name)
	slot.Store(&s)
	d.pos = end + 1
	return s, nil
}

const maxCachedKey = 32

var keyCache [1024]atomic.Pointer[string]

// string parses a string at d.pos (on its opening quote). Strings without escapes or
// invalid UTF-8, nearly all of them, are one allocation.
func (d *decoder) string() (string, error) {
	d.pos++ // "
	start := d.pos
	ascii := true
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			s := d.buf[start:d.pos]
			if ascii || utf8.Valid(s) {
				d.pos++
				return string(s), nil
			}
			d.pos = start
			return d.slowString()
		case c == '\\':
			d.pos = start
			return d.slowString()
		case c < ' ':
			return "", d.fail("control character")
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.pos++
	}
	return "", d.fail("")
}

// slowString decodes escapes and replaces invalid UTF-8 and lone surrogates by U+FFFD,
// as encoding/json does.
func (d *decoder) slowString() (string, error) {
	out := make([]byte, 0, 32)
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(out), nil
		case c < ' ':
			return "", d.fail("control character")
		case c < utf8.RuneSelf && c != '\\':
			out = append(out, c)
			d.pos++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.buf[d.pos:])
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte
			d.pos += size
		default: // backslash
			var err error
			if out, err = d.escape(out); err != nil {
				return "", err
			}
		}
	}
	return "", d.fail("")
}

// simpleEscapes maps the character after a backslash to the one it stands for, 0 for \u and
// for characters that may not follow a backslash.
var simpleEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape appends what the escape at d.pos (on its backslash) stands for and moves past it.
func (d *decoder) escape(out []byte) ([]byte, error) {
	d.pos++
	if d.pos >= len(d.buf) {
		return out, d.fail("")
	}
	switch e := d.buf[d.pos]; {
	case simpleEscapes[e] != 0:
		out = append(out, simpleEscapes[e])
	case e == 'u':
		r, ok := d.hex4(d.pos + 1)
		if !ok {
			return out, fmt.Errorf("invalid JSON: invalid \\u escape at offset %d", d.pos-1)
		}
		d.pos += 4
		if utf16.IsSurrogate(r) {
			r = d.surrogatePair(r)
		}
		out = utf8.AppendRune(out, r)
	default:
		return out, d.fail("invalid escape character")
	}
	d.pos++
	return out, nil
}

// surrogatePair returns the character that the surrogate r, whose \u escape ends at
// d.pos, makes with a \u escape right after it, and moves past that escape; a pair is
// two escapes, and anything else makes r a lone surrogate, U+FFFD.
func (d *decoder) surrogatePair(r rune) rune {
	if d.pos+2 >= len(d.buf) || d.buf[d.pos+1] != '\\' || d.buf[d.pos+2] != 'u' {
		return utf8.RuneError
	}
	r2, ok := d.hex4(d.pos + 3)
	if !ok {
		return utf8.RuneError
	}
	dec := utf16.DecodeRune(r, r2)
	if dec != utf8.RuneError {
		d.pos += 6
	}
	return dec
}

// hex4 reads the four hex digits of a \u escape at i.
func (d *decoder) hex4(i int) (rune, bool) {
	if i+4 > len(d.buf) {
		return 0, false
	}
	var r rune
	for _, c := range d.buf[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
