package config

// parser builds the syntax tree from tokens. It is permissive about what a value may be
// (operators and free words are allowed, so whole files of the wider language parse) and
// strict about structure (brackets, keys, line ends). After an error it skips to the next
// line or closing brace and carries on, so a file's errors are reported together.
type parser struct {
	toks  []token
	i     int
	rep   *reporter
	depth int
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// Parse parses one file of the configuration language. It always returns a tree (possibly
// partial) and the diagnostics found; the tree is complete only when there are no errors.
func Parse(name string, src []byte) (*File, Diagnostics) {
	rep := &reporter{}
	f := parse(name, string(src), rep)
	return f, rep.diags
}

func parse(name, src string, rep *reporter) *File {
	p := &parser{toks: lex(name, src, rep), rep: rep}
	return &File{Name: name, Entries: p.parseEntries(tokEOF, Pos{})}
}

// parsePhraseText parses text (the content of a string) as the value of a `key:` entry.
// base is where the text starts, so positions point into the original file.
func parsePhraseText(base Pos, text string, rep *reporter) *Phrase {
	toks := lex(base.File, text, rep)
	for i := range toks {
		if toks[i].Pos.Line == 1 {
			toks[i].Pos.Col += base.Col - 1
		}
		toks[i].Pos.Line += base.Line - 1
		toks[i].NewlineBefore = toks[i].Kind == tokEOF
	}
	p := &parser{toks: toks, rep: rep}
	ph := p.parsePhrase(&Entry{Key: "value", Colon: true}, base)
	if t := p.peek(); t.Kind != tokEOF {
		rep.errorf(t.Pos, "unexpected %s", t.describe())
	}
	return ph
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.Kind != tokEOF {
		p.i++
	}
	return t
}

// parseEntries reads entries until the closing token (tokRBrace, or tokEOF at top level).
// open is where the enclosing '{' was, for the "not closed" message.
func (p *parser) parseEntries(end tokenKind, open Pos) []*Entry {
	var entries []*Entry
	var annotations []*Annotation
	for {
		t := p.peek()
		if len(annotations) > 0 && (t.Kind == end || t.Kind == tokEOF) {
			p.rep.errorf(annotations[0].P, "annotation %s: expected the entry it marks on the next line, found %s", annotations[0].Text(), t.describe())
			annotations = nil
		}
		switch {
		case t.Kind == end:
			return entries
		case t.Kind == tokEOF:
			p.rep.errorf(t.Pos, "expected '}' to close the block opened at %s, found end of file", open)
			return entries
		case t.Kind == tokComma:
			p.advance() // separators between entries are optional
			continue
		case t.Kind == tokRBrace && end == tokEOF:
			p.rep.errorf(t.Pos, "unexpected '}': no block is open here")
			p.advance()
			continue
		case t.Kind == tokOp && t.Text == "@":
			if a := p.parseAnnotation(); a != nil {
				annotations = append(annotations, a)
			}
			continue
		}
		if e := p.parseEntry(); e != nil {
			e.Annotations, annotations = annotations, nil
			entries = append(entries, e)
		}
	}
}

// parseAnnotation reads `@name` or `@name(args…)`, alone on its line: the annotation of
// the entry that follows.
func (p *parser) parseAnnotation() *Annotation {
	at := p.advance()
	t := p.peek()
	if t.Kind != tokIdent || t.NewlineBefore || t.Pos.Line != at.Pos.Line || t.Pos.Col != at.Pos.Col+1 {
		p.rep.errorf(at.Pos, "expected an annotation name right after '@' (such as @deprecated), found %s", t.describe())
		p.skipLine()
		return nil
	}
	a := &Annotation{P: at.Pos, Name: t.Text}
	switch n := p.parseName(p.advance()).(type) {
	case *Ident:
		a.Name = n.Name
	case *Call:
		a.Name, a.Args = n.Name, n.Args
		if a.Args == nil {
			a.Args = []*Phrase{}
		}
	}
	if next := p.peek(); !next.NewlineBefore && next.Kind != tokEOF {
		p.rep.errorf(next.Pos, "unexpected %s after annotation %s: write the entry it marks on the next line", next.describe(), a.Text())
		p.skipLine()
	}
	return a
}

func (p *parser) parseEntry() *Entry {
	t := p.peek()
	if t.Kind != tokIdent && t.Kind != tokString {
		p.rep.errorf(t.Pos, "expected a key (a name or a quoted string), found %s", t.describe())
		p.skipLine()
		return nil
	}
	p.advance()
	e := &Entry{KeyPos: t.Pos, Key: t.Text, Quoted: t.Kind == tokString}
	colon := p.peek()
	if colon.Kind == tokColon && !colon.NewlineBefore {
		p.advance()
		e.Colon = true
	}
	e.Value = p.parsePhrase(e, colon.Pos)
	p.expectEntryEnd(e)
	return e
}

// parsePhrase reads the value of an entry: words up to the end of the line, then
// comma-separated modifiers.
func (p *parser) parsePhrase(e *Entry, colon Pos) *Phrase {
	ph := &Phrase{Pos: p.peek().Pos}
	ph.Words = p.parseWords()
	if e.Colon && len(ph.Words) == 0 {
		p.rep.errorf(colon, "expected a value after %q on the same line, found %s", e.Key+":", p.peek().describe())
		return ph
	}
	for p.peek().Kind == tokComma {
		next := p.peekAt(1)
		switch {
		case next.Kind == tokRBrace || next.Kind == tokEOF:
			p.advance() // trailing comma
			return ph
		case !e.Colon || next.NewlineBefore || p.startsEntry(1):
			// `a: 1, b: 2` or a comma ending the line: the comma separates entries;
			// leave it for parseEntries. Modifiers continue on the same line only.
			return ph
		}
		p.advance()
		seg := p.parseWords()
		if len(seg) == 0 {
			p.rep.errorf(p.peek().Pos, "expected a modifier after ',' (such as required, optional or default(…)), found %s", p.peek().describe())
			return ph
		}
		ph.Modifiers = append(ph.Modifiers, seg)
	}
	return ph
}

// startsEntry reports whether the token k ahead begins a `key:` entry.
func (p *parser) startsEntry(k int) bool {
	t, next := p.peekAt(k), p.peekAt(k+1)
	return (t.Kind == tokIdent || t.Kind == tokString) && next.Kind == tokColon && !next.NewlineBefore
}

// startsBlockEntry reports whether the next tokens are `key name {` on one line, as in
// `base_url: "…" operation get { … }`: after a value, that starts a new entry.
func (p *parser) startsBlockEntry() bool {
	a, b, c := p.peekAt(0), p.peekAt(1), p.peekAt(2)
	return a.Kind == tokIdent && b.Kind == tokIdent && c.Kind == tokLBrace && !b.NewlineBefore && !c.NewlineBefore
}

// parseWords reads atoms until the end of the line, a separator or a closing bracket.
// A block ends the words: `auth bearer { … }` is followed by a new entry.
func (p *parser) parseWords() []Node {
	var words []Node
	for {
		t := p.peek()
		if t.NewlineBefore {
			return words
		}
		switch t.Kind {
		case tokEOF, tokRBrace, tokRBracket, tokRParen, tokComma, tokColon:
			return words
		case tokIdent, tokString:
			if p.startsEntry(0) || (len(words) > 0 && p.startsBlockEntry()) {
				return words
			}
		}
		n := p.parseAtom()
		if n == nil {
			return words
		}
		words = append(words, n)
		if _, isBlock := n.(*Object); isBlock {
			return words
		}
	}
}

// parseItems reads comma-separated phrases up to the closing bracket; line breaks do not
// matter inside brackets.
func (p *parser) parseItems(closing tokenKind, open token) []*Phrase {
	var items []*Phrase
	for {
		t := p.peek()
		if t.Kind == closing {
			p.advance()
			return items
		}
		if endsItems(t.Kind) {
			p.rep.errorf(t.Pos, "expected %s to close the %s opened at %s, found %s", closing, open.Raw, open.Pos, t.describe())
			if t.Kind != tokEOF && t.Kind != tokRBrace {
				p.advance()
			}
			return items
		}
		ph := p.parseItem(closing, open)
		if len(ph.Words) == 0 && p.peek().Kind == tokComma {
			p.rep.errorf(p.peek().Pos, "expected a value before ','")
		}
		if len(ph.Words) > 0 {
			items = append(items, ph)
		}
		if p.peek().Kind == tokComma {
			p.advance()
		}
	}
}

// endsItems reports whether a token ends a bracketed list whatever its bracket: the end
// of the input, or a closing bracket (the right one, or one that closes something else).
func endsItems(k tokenKind) bool {
	return k == tokEOF || k == tokRBrace || k == tokRBracket || k == tokRParen
}

// parseItem reads one item of parseItems: the words up to a ',' or a closing bracket.
func (p *parser) parseItem(closing tokenKind, open token) *Phrase {
	ph := &Phrase{Pos: p.peek().Pos}
	for {
		w := p.peek()
		if w.Kind == tokComma || w.Kind == closing || endsItems(w.Kind) {
			return ph
		}
		if w.Kind == tokColon {
			if closing == tokRParen {
				// Call arguments of the wider language (job steps) may hold `key: value`
				// and `c ? a : b`: the colon is a word that the decoders of Junction's own
				// calls (env(…), exponential_backoff(…)) reject like any other.
				p.advance()
				ph.Words = append(ph.Words, &Operator{P: w.Pos, Text: ":"})
				continue
			}
			p.rep.errorf(w.Pos, "unexpected ':' inside %s…%s: write key: value pairs inside { }", open.Raw, closing)
			p.advance()
			continue
		}
		if n := p.parseAtom(); n != nil {
			ph.Words = append(ph.Words, n)
		}
	}
}

func (p *parser) parseAtom() Node {
	t := p.advance()
	switch t.Kind {
	case tokIdent:
		return p.parseName(t)
	case tokString:
		return &String{P: t.Pos, Value: t.Text, Triple: t.Triple}
	case tokNumber:
		return &Number{P: t.Pos, Text: t.Text}
	case tokDuration:
		return &Duration{P: t.Pos, Text: t.Text}
	case tokPath:
		return &PathLit{P: t.Pos, Text: t.Text}
	case tokOp, tokDot:
		return p.parseOperator(t)
	case tokLBrace:
		return p.nested(t, func() Node {
			obj := &Object{P: t.Pos, Entries: p.parseEntries(tokRBrace, t.Pos)}
			if p.peek().Kind == tokRBrace {
				p.advance()
			}
			return obj
		})
	case tokLBracket:
		return p.nested(t, func() Node { return &List{P: t.Pos, Items: p.parseItems(tokRBracket, t)} })
	case tokLParen:
		return p.nested(t, func() Node { return &Call{P: t.Pos, Args: p.parseItems(tokRParen, t)} })
	}
	p.rep.errorf(t.Pos, "expected a value, found %s", t.describe())
	return nil
}

// parseName reads what starts with the name t: a dotted name (endpoint.secret,
// config.reports.recipients), or a call when '(' follows on the same line.
func (p *parser) parseName(t token) Node {
	name := t.Text
	for p.peek().Kind == tokDot && p.peekAt(1).Kind == tokIdent && !p.peek().NewlineBefore {
		p.advance()
		name += "." + p.advance().Text
	}
	if p.peek().Kind != tokLParen || p.peek().NewlineBefore {
		return &Ident{P: t.Pos, Name: name}
	}
	open := p.advance()
	return p.nested(open, func() Node { return &Call{P: t.Pos, Name: name, Args: p.parseItems(tokRParen, open)} })
}

// parseOperator reads the operator t; -5 and -1.5s, a minus sign glued to a number,
// make a negative literal.
func (p *parser) parseOperator(t token) Node {
	if n := p.peek(); t.Text == "-" && (n.Kind == tokNumber || n.Kind == tokDuration) && n.Pos.Line == t.Pos.Line && n.Pos.Col == t.Pos.Col+1 {
		p.advance()
		if n.Kind == tokNumber {
			return &Number{P: t.Pos, Text: "-" + n.Text}
		}
		return &Duration{P: t.Pos, Text: "-" + n.Text}
	}
	return &Operator{P: t.Pos, Text: t.Raw}
}

// nested parses, with parse, what the bracket open starts, within the nesting bound.
func (p *parser) nested(open token, parse func() Node) Node {
	if !p.enter(open) {
		return nil
	}
	defer p.leave()
	return parse()
}

// enter guards against unbounded nesting; on failure it skips the rest of the input, as
// nothing sensible can follow.
func (p *parser) enter(open token) bool {
	p.depth++
	if p.depth > maxDepth {
		p.rep.errorf(open.Pos, "nesting deeper than %d levels", maxDepth)
		p.i = len(p.toks) - 1
		p.depth--
		return false
	}
	return true
}

func (p *parser) leave() { p.depth-- }

// expectEntryEnd checks that the entry is followed by a line break, a separator, the end
// of its block, or (on the same line) the key of another `key:` entry.
func (p *parser) expectEntryEnd(e *Entry) {
	t := p.peek()
	if t.NewlineBefore || t.Kind == tokRBrace || t.Kind == tokEOF || t.Kind == tokComma || p.startsEntry(0) || p.startsBlockEntry() {
		return
	}
	if last := lastWord(e.Value); last != nil {
		if _, ok := last.(*Object); ok && (t.Kind == tokIdent || t.Kind == tokString) {
			return // `} else {` and other entries that follow a block on its closing line
		}
	}
	p.rep.errorf(t.Pos, "unexpected %s after the value of %q: expected the end of the line", t.describe(), e.Key)
	p.skipLine()
}

func lastWord(ph *Phrase) Node {
	if ph == nil {
		return nil
	}
	if n := len(ph.Modifiers); n > 0 {
		m := ph.Modifiers[n-1]
		return m[len(m)-1]
	}
	if n := len(ph.Words); n > 0 {
		return ph.Words[n-1]
	}
	return nil
}

// skipLine discards tokens up to the next line break outside brackets, or up to the '}'
// closing the current block.
func (p *parser) skipLine() {
	depth := 0
	first := true
	for {
		t := p.peek()
		if t.Kind == tokEOF {
			return
		}
		if depth == 0 && !first && t.NewlineBefore {
			return
		}
		first = false
		switch t.Kind {
		case tokLBrace, tokLBracket, tokLParen:
			depth++
		case tokRBrace, tokRBracket, tokRParen:
			if depth == 0 {
				if t.Kind == tokRBrace {
					return
				}
			} else {
				depth--
			}
		}
		p.advance()
	}
}
