package config

import "fmt"

// Pos is a place in a configuration file. Line and Col are 1-based; Col counts runes, so
// it matches what an editor shows.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// tokenKind classifies a lexeme.
type tokenKind int

const (
	tokEOF      tokenKind = iota
	tokIdent              // name, may contain '-' inside: max-keys
	tokString             // "…" or """…""", Text holds the decoded value
	tokNumber             // 42, 2.0
	tokDuration           // 500ms, 30s, 1h30m, 7d
	tokPath               // /users/{id}: a '/' that starts a word (endpoint headers)
	tokLBrace             // {
	tokRBrace             // }
	tokLBracket           // [
	tokRBracket           // ]
	tokLParen             // (
	tokRParen             // )
	tokColon              // :
	tokComma              // ,
	tokDot                // .
	tokOp                 // any other operator: = == >= + * … (only meaningful in blocks Junction ignores)
)

var tokenNames = map[tokenKind]string{
	tokEOF:      "end of file",
	tokIdent:    "name",
	tokString:   "string",
	tokNumber:   "number",
	tokDuration: "duration",
	tokPath:     "path",
	tokLBrace:   "'{'",
	tokRBrace:   "'}'",
	tokLBracket: "'['",
	tokRBracket: "']'",
	tokLParen:   "'('",
	tokRParen:   "')'",
	tokColon:    "':'",
	tokComma:    "','",
	tokDot:      "'.'",
	tokOp:       "operator",
}

func (k tokenKind) String() string { return tokenNames[k] }

// token is one lexeme. NewlineBefore records whether a line break separates it from the
// previous token: the language ends an entry at the end of a line, so the parser needs it.
type token struct {
	Kind          tokenKind
	Text          string // identifier, decoded string, number or operator text
	Raw           string // the source text, for messages
	Pos           Pos
	NewlineBefore bool
	Triple        bool // a """ string
}

// describe renders the token for "expected X, found Y" messages.
func (t token) describe() string {
	switch t.Kind {
	case tokEOF:
		return "end of file"
	case tokString:
		return fmt.Sprintf("string %q", truncate(t.Text, 30))
	case tokIdent:
		return fmt.Sprintf("%q", t.Text)
	default:
		return fmt.Sprintf("%q", truncate(t.Raw, 30))
	}
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
