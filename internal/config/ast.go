package config

import (
	"strings"
)

// The syntax tree. A file is a list of entries; an entry is a key and a phrase; a phrase
// is the words written after the key, plus comma-separated modifiers. Blocks are objects:
// `integration GitHub { … }` is the entry `integration` whose phrase has the two words
// `GitHub` and `{ … }`. The same shape serves both dialects (`timeout: 30s` and
// `timeout "30s"`), so the decoder, not the parser, gives words their meaning.

// Node is any element of the syntax tree that stands for a value.
type Node interface {
	Position() Pos
}

// File is one parsed configuration file.
type File struct {
	Name    string
	Entries []*Entry
}

// Entry is `key: phrase` or `key phrase`.
type Entry struct {
	KeyPos Pos
	Key    string
	Quoted bool // the key was written as a string: "Content-Type": …
	Colon  bool // written with ':'
	Value  *Phrase
	// Annotations are the @name and @name(…) lines written before the entry, as CodeAI
	// marks endpoints (@deprecated, @auth("admin")).
	Annotations []*Annotation
}

// Annotation is `@name` or `@name(args…)` on the lines before an entry.
type Annotation struct {
	P    Pos
	Name string
	Args []*Phrase
}

// Text renders the annotation as written, for messages.
func (a *Annotation) Text() string {
	if a.Args == nil {
		return "@" + a.Name
	}
	return "@" + Text(&Call{Name: a.Name, Args: a.Args})
}

// Phrase is what follows a key: Words are the value itself (`3 times with
// exponential_backoff`, or a single word), Modifiers the comma-separated additions of a
// field declaration (`string, required, default(1)` has Words [string] and two modifiers).
type Phrase struct {
	Pos       Pos
	Words     []Node
	Modifiers [][]Node
}

// Ident is a bare name. Dotted names (endpoint.secret) are one Ident with dots in Name.
type Ident struct {
	P    Pos
	Name string
}

// String is a quoted string, already unescaped.
type String struct {
	P        Pos
	Value    string
	Triple   bool // written as """…"""
	FromData bool // came from YAML or JSON, where strings also stand for calls and phrases
	Plain    bool // a YAML scalar without quotes
}

// offset is the width of the opening quote, so positions inside the string can be found.
func (n *String) offset() int {
	switch {
	case n.Triple:
		return 3
	case n.Plain:
		return 0
	}
	return 1
}

// Number is a numeric literal, kept as written.
type Number struct {
	P    Pos
	Text string
}

// Duration is a literal such as 500ms or 7d, kept as written.
type Duration struct {
	P    Pos
	Text string
}

// PathLit is a word starting with '/', as in `endpoint GET /users/{id}`.
type PathLit struct {
	P    Pos
	Text string
}

// Operator is punctuation Junction does not interpret (=, +, >=, *, …). It appears in the
// expression syntax of blocks that Junction ignores.
type Operator struct {
	P    Pos
	Text string
}

// Call is name(arg, …): env(X), default(10), list(string), api_key(env(K), "appid").
type Call struct {
	P    Pos
	Name string
	Args []*Phrase
}

// List is [item, …].
type List struct {
	P     Pos
	Items []*Phrase
}

// Object is { entries }.
type Object struct {
	P       Pos
	Entries []*Entry
}

// Position implementations.
func (n *Ident) Position() Pos    { return n.P }
func (n *String) Position() Pos   { return n.P }
func (n *Number) Position() Pos   { return n.P }
func (n *Duration) Position() Pos { return n.P }
func (n *PathLit) Position() Pos  { return n.P }
func (n *Operator) Position() Pos { return n.P }
func (n *Call) Position() Pos     { return n.P }
func (n *List) Position() Pos     { return n.P }
func (n *Object) Position() Pos   { return n.P }

// Single returns the phrase's only word, or nil when it has more or fewer words or any
// modifier.
func (ph *Phrase) Single() Node {
	if ph == nil || len(ph.Words) != 1 || len(ph.Modifiers) != 0 {
		return nil
	}
	return ph.Words[0]
}

// Text renders a node roughly as written, for messages.
func Text(n Node) string {
	switch v := n.(type) {
	case *Ident:
		return v.Name
	case *String:
		return `"` + truncate(v.Value, 40) + `"`
	case *Number:
		return v.Text
	case *Duration:
		return v.Text
	case *PathLit:
		return v.Text
	case *Operator:
		return v.Text
	case *Call:
		args := make([]string, len(v.Args))
		for i, a := range v.Args {
			args[i] = phraseText(a)
		}
		return v.Name + "(" + strings.Join(args, ", ") + ")"
	case *List:
		items := make([]string, len(v.Items))
		for i, a := range v.Items {
			items[i] = phraseText(a)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case *Object:
		return "{…}"
	}
	return "?"
}

func phraseText(ph *Phrase) string {
	if ph == nil {
		return ""
	}
	parts := []string{wordsText(ph.Words)}
	for _, m := range ph.Modifiers {
		parts = append(parts, wordsText(m))
	}
	return strings.Join(parts, ", ")
}

func wordsText(ws []Node) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = Text(w)
	}
	return strings.Join(s, " ")
}
