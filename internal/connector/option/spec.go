package option

import (
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/config"
)

// Type is the kind of value a field holds; the comment says the Go type Values gives.
type Type int

// The types of fields.
const (
	String   Type = iota + 1 // string; a bare word is a string too
	Int                      // int: a whole number
	Bool                     // bool: true or false
	Duration                 // time.Duration: 5s, "2m"
	Strings                  // []string: a list of strings; one string is a list of one
	Block                    // *Values: a block { … } with its own Fields
	Blocks                   // []*Values: a list of blocks with the Fields; one block is a list of one
	Map                      // config.Options: a block whose keys the component defines
	Any                      // any: a value as written (a payload, a template)
)

// Role is what a block is decoded for. A Field's For and Required are sets of roles.
type Role uint8

// The roles.
const (
	Source Role = 1 << iota
	Sink
	// Alone is a connector block on its own, for no flow: `junction validate` checks
	// every declared connector this way, and `junction connector test` connects with it.
	Alone
	// Always, as Required, is every role.
	Always = Source | Sink | Alone
)

// Field is one option.
type Field struct {
	Name string
	Type Type
	// Description says what the option is, for the reference and for messages: its first
	// sentence is a noun phrase ("the queue to read from") that follows "missing queue: ".
	Description string
	// Default is the value when the option is not set, of the Go type of Type (int for
	// Int, []string for Strings). Nil means the zero value.
	Default any
	// Required are the roles that need the option set (and not empty).
	Required Role
	// For are the roles that read the option; zero means every role. It sorts the
	// reference; any role accepts every option, so one connector block serves both.
	For Role
	// Secret options may be written as env(NAME) or file(PATH) (a String), or hold such
	// values (Any); they are resolved when decoded and never appear in a message.
	Secret bool
	// Enum are the values a String (or the text of an Any) may take.
	Enum []string
	// Min and Max bound an Int (int) or a Duration (time.Duration); nil is no bound.
	Min, Max any
	// Example is a value as written in a configuration, for the reference.
	Example string
	// Fields are a Block's or a list of Blocks' own options.
	Fields []Field
	// Shorthand is the field of a Block that a single string sets: `queue: orders` is
	// `queue: { name: orders }`.
	Shorthand string
	// Switch lets a Block be written as true or false too: true is the block with no
	// keys (its fields' defaults), false is no block (Block returns nil, Has is true).
	// `tls: true` turns TLS on with the defaults; `tls: { ca: … }` tunes it.
	Switch bool
	// Parse checks the decoded value further, or turns it into the component's own type
	// (a JSONPath, a URL): Values then holds what it returns. Its error is reported at
	// the option's position; it must not quote a Secret. See Check and Convert.
	Parse func(v any) (any, error)
}

// Spec is the options of one component, declared once.
type Spec struct {
	// Summary is one paragraph: what the component connects to and how.
	Summary string
	// Description is further paragraphs of the reference (Markdown): settling, limits,
	// headers.
	Description string
	Fields      []Field
	// Check applies the rules between fields: one of two keys, a key that needs another,
	// what a role needs beyond Required. It runs after every field is decoded; a problem
	// with a field that already has one is not reported again.
	Check func(v *Values, role Role)
	// Examples are complete blocks, one per role the component plays at least; they are
	// in the reference and every one of them must decode.
	Examples []Example
}

// Example is a connector block's options as written in a configuration file.
type Example struct {
	Role    Role // Source or Sink
	Title   string
	Options string
}

// Check adapts a rule on a field's decoded value (string for String, []string for
// Strings …) to Field.Parse.
func Check[T any](rule func(T) error) func(any) (any, error) {
	return func(v any) (any, error) {
		t, ok := v.(T)
		if !ok {
			return nil, fmt.Errorf("option: Check on a %T field", v)
		}
		return v, rule(t)
	}
}

// Convert adapts a function that turns a field's decoded value into another type to
// Field.Parse; Get reads the result.
func Convert[T, U any](conv func(T) (U, error)) func(any) (any, error) {
	return func(v any) (any, error) {
		t, ok := v.(T)
		if !ok {
			return nil, fmt.Errorf("option: Convert on a %T field", v)
		}
		return conv(t)
	}
}

// zero is the value of an option that is not set and has no default.
func (t Type) zero() any {
	switch t {
	case String:
		return ""
	case Int:
		return 0
	case Bool:
		return false
	case Duration:
		return time.Duration(0)
	case Strings:
		return []string(nil)
	case Block:
		return (*Values)(nil)
	case Blocks:
		return []*Values(nil)
	case Map:
		return config.Options{}
	}
	return nil
}

// roleName names a role in messages and in the reference.
func roleName(r Role) string {
	switch r {
	case Source:
		return "source"
	case Sink:
		return "sink"
	}
	return "connector"
}
