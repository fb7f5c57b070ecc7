package config

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lexer turns source text into tokens. It never stops at a bad character: it reports it
// and moves on, so one typo does not hide the rest of the file's problems.
type lexer struct {
	src  string
	file string
	rep  *reporter

	off  int // byte offset of the next rune
	line int
	col  int

	sawNewline bool // a line break since the last token
	lastWasGap bool // whitespace (or start of file) just before the current position
}

func lex(file, src string, rep *reporter) []token {
	lx := &lexer{src: src, file: file, rep: rep, line: 1, col: 1, lastWasGap: true}
	var toks []token
	for {
		t := lx.next()
		toks = append(toks, t)
		if t.Kind == tokEOF {
			return toks
		}
	}
}

func (lx *lexer) pos() Pos { return Pos{File: lx.file, Line: lx.line, Col: lx.col} }

// peek returns the rune at byte offset off+k runes ahead (k counted in bytes for ASCII
// look-ahead, which is all the lexer needs).
func (lx *lexer) peekByte(k int) byte {
	if lx.off+k < len(lx.src) {
		return lx.src[lx.off+k]
	}
	return 0
}

func (lx *lexer) advance() rune {
	r, size := utf8.DecodeRuneInString(lx.src[lx.off:])
	lx.off += size
	if r == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	return r
}

func (lx *lexer) next() token {
	for {
		if t, ok := lx.scan(); ok {
			return t
		}
	}
}

// scan reads one token; ok is false when it skipped a character it reported as bad.
func (lx *lexer) scan() (token, bool) {
	lx.skipSpaceAndComments()
	nl := lx.sawNewline
	lx.sawNewline = false
	gap := lx.lastWasGap
	lx.lastWasGap = false
	start := lx.off
	p := lx.pos()
	mk := func(k tokenKind, text string) token {
		return token{Kind: k, Text: text, Raw: lx.src[start:lx.off], Pos: p, NewlineBefore: nl}
	}
	if lx.off >= len(lx.src) {
		return token{Kind: tokEOF, Pos: p, NewlineBefore: true}, true
	}
	c := lx.src[lx.off]
	switch {
	case isIdentStart(c):
		lx.scanIdent()
		return mk(tokIdent, lx.src[start:lx.off]), true
	case isDigit(c):
		return lx.scanNumber(start, p, nl), true
	case c == '"':
		text, triple := lx.scanQuoted(p)
		t := mk(tokString, text)
		t.Triple = triple
		return t, true
	case c == '/' && gap && lx.off+1 < len(lx.src) && !isSpace(lx.src[lx.off+1]):
		// A word that starts with '/' is a path, as in `endpoint GET /users/{id} {`.
		lx.skipWhile(func(c byte) bool { return !isSpace(c) })
		return mk(tokPath, lx.src[start:lx.off]), true
	}
	if k, text, ok := lx.scanOperator(); ok {
		return mk(k, text), true
	}
	r := lx.advance()
	if r == utf8.RuneError || !unicode.IsPrint(r) {
		lx.rep.errorf(p, "unexpected character %q", r)
		// Keep the newline flag for the token that follows the bad character.
		lx.sawNewline = lx.sawNewline || nl
		return token{}, false
	}
	return mk(tokOp, string(r)), true
}

// scanQuoted reads a "…" string, or a """…""" one (triple).
func (lx *lexer) scanQuoted(p Pos) (text string, triple bool) {
	if strings.HasPrefix(lx.src[lx.off:], `"""`) {
		return lx.scanTripleString(p), true
	}
	return lx.scanString(p), false
}

// scanOperator reads punctuation or an operator of several characters; ok is false
// when neither is at lx.off.
func (lx *lexer) scanOperator() (k tokenKind, text string, ok bool) {
	c := lx.src[lx.off]
	if k, ok := punctuation[c]; ok {
		lx.advance()
		return k, string(c), true
	}
	for _, op := range multiCharOps {
		if strings.HasPrefix(lx.src[lx.off:], op) {
			for range op {
				lx.advance()
			}
			return tokOp, op, true
		}
	}
	return 0, "", false
}

var punctuation = map[byte]tokenKind{
	'{': tokLBrace, '}': tokRBrace, '[': tokLBracket, ']': tokRBracket,
	'(': tokLParen, ')': tokRParen, ':': tokColon, ',': tokComma, '.': tokDot,
}

var multiCharOps = []string{"==", "!=", ">=", "<=", "&&", "||", "->", "=>"}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (lx *lexer) skipSpaceAndComments() {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		switch {
		case c == '\n':
			lx.sawNewline = true
			lx.lastWasGap = true
			lx.advance()
		case isLineSpace(c):
			lx.lastWasGap = true
			lx.advance()
		case c == 0xEF && strings.HasPrefix(lx.src[lx.off:], "\uFEFF"):
			lx.advance() // byte order mark
		case c == '/' && lx.peekByte(1) == '/':
			lx.skipWhile(func(c byte) bool { return c != '\n' })
			lx.lastWasGap = true
		case c == '/' && lx.peekByte(1) == '*':
			lx.skipBlockComment()
		default:
			return
		}
	}
}

// isLineSpace reports whether c is white space other than a line break.
func isLineSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'
}

// skipBlockComment moves past a /* … */ comment, which may span lines.
func (lx *lexer) skipBlockComment() {
	p := lx.pos()
	lx.advance()
	lx.advance()
	end := strings.Index(lx.src[lx.off:], "*/")
	if end < 0 {
		lx.rep.errorf(p, "unterminated /* comment: expected */ before end of file")
		end = len(lx.src) - lx.off
	} else {
		end += 2
	}
	stop := lx.off + end
	for lx.off < stop {
		if lx.advance() == '\n' {
			lx.sawNewline = true
		}
	}
	lx.lastWasGap = true
}

// scanIdent reads a name. A '-' belongs to the name when a letter, digit or '_' follows
// it directly (max-keys, half-open); otherwise it is an operator.
func (lx *lexer) scanIdent() {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		if isIdentPart(c) || (c == '-' && isIdentPart(lx.peekByte(1))) {
			lx.advance()
			continue
		}
		return
	}
}

// durationUnits are the suffixes a number may carry to be a duration.
var durationUnits = map[string]bool{"ns": true, "us": true, "ms": true, "s": true, "m": true, "h": true, "d": true, "w": true}

// scanNumber reads a number, or a duration: numbers with units, as in 500ms or 1h30m.
func (lx *lexer) scanNumber(start int, p Pos, nl bool) token {
	kind := tokNumber
	for {
		lx.scanDecimal()
		unit := lx.scanUnit()
		if unit == "" {
			break
		}
		if !durationUnits[unit] {
			// Consume the rest of the word so the error is reported once.
			lx.skipWhile(isIdentPart)
			lx.rep.errorf(p, "invalid number %q: expected a number or a duration such as 500ms, 30s, 5m, 2h, 7d", lx.src[start:lx.off])
			return token{Kind: tokNumber, Text: "0", Raw: lx.src[start:lx.off], Pos: p, NewlineBefore: nl}
		}
		kind = tokDuration
		// 1h30m: another number may follow the unit directly.
		if !isDigit(lx.peekByte(0)) {
			break
		}
	}
	// 99.5%: a percentage stays a number whose text keeps the sign; only settings that
	// take a percentage (slo success_rate) accept it, every other number setting reports it.
	if kind == tokNumber && lx.peekByte(0) == '%' {
		lx.advance()
	}
	raw := lx.src[start:lx.off]
	return token{Kind: kind, Text: raw, Raw: raw, Pos: p, NewlineBefore: nl}
}

// scanDecimal reads digits with an optional fraction: 12, 1.5.
func (lx *lexer) scanDecimal() {
	lx.skipWhile(isDigit)
	if lx.peekByte(0) == '.' && isDigit(lx.peekByte(1)) {
		lx.advance()
		lx.skipWhile(isDigit)
	}
}

// scanUnit reads the letters (and '_') after a number: its unit, if it has one.
func (lx *lexer) scanUnit() string {
	start := lx.off
	lx.skipWhile(func(c byte) bool { return isIdentPart(c) && !isDigit(c) })
	return lx.src[start:lx.off]
}

// skipWhile moves past the bytes for which ok holds.
func (lx *lexer) skipWhile(ok func(byte) bool) {
	for lx.off < len(lx.src) && ok(lx.src[lx.off]) {
		lx.advance()
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanString reads a "…" string with the usual escapes. A string may not span lines;
// use """…""" for that.
func (lx *lexer) scanString(p Pos) string {
	lx.advance() // opening quote
	var b strings.Builder
	for {
		if lx.off >= len(lx.src) || lx.src[lx.off] == '\n' {
			lx.rep.errorf(p, `unterminated string: expected a closing '"' on the same line (use """ for text over several lines)`)
			return b.String()
		}
		r := lx.advance()
		switch r {
		case '"':
			return b.String()
		case '\\':
			lx.scanEscape(&b)
		default:
			b.WriteRune(r)
		}
	}
}

func (lx *lexer) scanEscape(b *strings.Builder) {
	p := lx.pos()
	if lx.off >= len(lx.src) {
		return
	}
	r := lx.advance()
	switch r {
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case '"', '\\', '/', '$':
		b.WriteRune(r)
	case 'u':
		if lx.off+4 <= len(lx.src) {
			if v, err := strconv.ParseUint(lx.src[lx.off:lx.off+4], 16, 32); err == nil {
				for range 4 {
					lx.advance()
				}
				b.WriteRune(rune(v))
				return
			}
		}
		lx.rep.errorf(p, `invalid escape \u: expected four hex digits`)
	default:
		lx.rep.errorf(p, `invalid escape \%c: expected one of \n \t \r \" \\ \$ \uXXXX`, r)
	}
}

// scanTripleString reads a """…""" string verbatim and removes the indentation common to
// its lines, so a GraphQL document can be indented with the configuration around it.
func (lx *lexer) scanTripleString(p Pos) string {
	for range 3 {
		lx.advance()
	}
	end := strings.Index(lx.src[lx.off:], `"""`)
	if end < 0 {
		lx.rep.errorf(p, `unterminated string: expected closing """ before end of file`)
		end = len(lx.src) - lx.off
	}
	body := lx.src[lx.off : lx.off+end]
	stop := lx.off + end
	for lx.off < stop {
		lx.advance()
	}
	for range 3 {
		if lx.off < len(lx.src) {
			lx.advance()
		}
	}
	return dedent(body)
}

// dedent drops a blank first and last line and the longest whitespace prefix shared by
// all non-blank lines.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 1 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	if len(lines) > 1 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = indent, false
			continue
		}
		for !strings.HasPrefix(indent, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	for i, l := range lines {
		lines[i] = strings.TrimRight(strings.TrimPrefix(l, prefix), " \t\r")
	}
	return strings.Join(lines, "\n")
}
