package transform

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file is the writer behind Encode.

// maxEncodeDepth bounds the nesting appendTree writes itself; deeper (or cyclic,
// hand-built) values are left to json.Marshal, which reports cycles.
const maxEncodeDepth = 1000

// appendTree appends v as json.Marshal writes it; ok is false for a value that is not
// part of a message tree (Encode then leaves it all to json.Marshal).
func appendTree(dst []byte, v any, depth int) (_ []byte, ok bool) {
	if depth > maxEncodeDepth {
		return dst, false
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		if v {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case string:
		return appendJSONString(dst, v), true
	case json.Number:
		n := string(v)
		if n == "" {
			n = "0" // as encoding/json writes the zero Number
		}
		if !validNumber(n) {
			return dst, false
		}
		return append(dst, n...), true
	case []any:
		return appendList(dst, v, depth)
	case map[string]any:
		return appendObject(dst, v, depth)
	}
	return dst, false
}

func appendList(dst []byte, list []any, depth int) (_ []byte, ok bool) {
	if list == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '[')
	for i, e := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, ok = appendTree(dst, e, depth+1); !ok {
			return dst, false
		}
	}
	return append(dst, ']'), true
}

// appendObject writes the members in the order of their names, as json.Marshal does.
func appendObject(dst []byte, obj map[string]any, depth int) (_ []byte, ok bool) {
	if obj == nil {
		return append(dst, "null"...), true
	}
	var buf [16]string
	keys := buf[:0]
	for k := range obj {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		if dst, ok = appendTree(dst, obj[k], depth+1); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendJSONString is encoding/json's appendString with HTML escaping, as
// json.Marshal uses it.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe(b) {
				i++
				continue
			}
			dst = appendEscapedByte(append(dst, s[start:i]...), b)
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if esc := escapedRune(c, size); esc != "" {
			dst = append(append(dst, s[start:i]...), esc...)
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// htmlSafe reports whether the ASCII character b is written as it is.
func htmlSafe(b byte) bool {
	return b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}

// appendEscapedByte appends the escape of an ASCII character that is not htmlSafe.
func appendEscapedByte(dst []byte, b byte) []byte {
	const hex = "0123456789abcdef"
	switch b {
	case '\\', '"':
		return append(dst, '\\', b)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
}

// escapedRune is the escape a character beyond ASCII is written as: invalid UTF-8 (c
// is RuneError, of size 1) as U+FFFD, and the line and paragraph separators, which
// JavaScript does not allow in strings; "" for the others, written as they are.
func escapedRune(c rune, size int) string {
	switch {
	case c == utf8.RuneError && size == 1:
		return `\ufffd`
	case c == '\u2028':
		return `\u2028`
	case c == '\u2029':
		return `\u2029`
	}
	return ""
}

// validNumber is encoding/json's isValidNumber: the JSON number grammar.
func validNumber(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	switch {
	case s == "":
		return false
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[skipDigits(s, 1):]
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[skipDigits(s, 2):]
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		return validExponent(s[1:])
	}
	return s == ""
}

// validExponent reports whether s, what follows the 'e' of a number, is [+-]?[0-9]+.
func validExponent(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && skipDigits(s, 0) == len(s)
}
