package config

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Connector is `connector NAME { type: rabbitmq … }`: a system flows read from or write
// to, configured once and used by name (seed 002's connectors section).
type Connector struct {
	Pos     Pos
	Name    string
	Type    string  // rabbitmq, mqtt, nats, kafka, redis, postgres, schedule, http, events, integration, webhook, log
	Options Options // everything else; each connector type reads its own
}

// Options are settings in a generic shape, read by the component they belong to (a
// connector, a source or a sink) with their positions kept for messages.
type Options struct {
	Pos     Pos
	Entries []Option
}

// Option is one setting. Value is a string, int64, float64, bool, nil, time.Duration,
// Value (env(NAME)/file(PATH)), []any, map[string]any or Options (a nested block).
type Option struct {
	Pos   Pos
	Key   string
	Value any
}

// Get returns the option with the key.
func (o Options) Get(key string) (Option, bool) {
	for _, e := range o.Entries {
		if e.Key == key {
			return e, true
		}
	}
	return Option{}, false
}

// OptionError is a problem with an option, with its position.
type OptionError struct {
	Pos Pos
	Msg string
}

func (e *OptionError) Error() string { return fmt.Sprintf("%s: %s", e.Pos, e.Msg) }

// OptionReader reads options one by one, collecting the first problem, and reports the
// keys nobody read as unknown. Typical use:
//
//	r := cfg.Options.Reader("rabbitmq connector")
//	url := r.Value("url", true)
//	prefetch := r.Int("prefetch", 50)
//	if err := r.Done(); err != nil { … }
type OptionReader struct {
	opts Options
	what string
	read map[string]bool
	err  *OptionError
}

// Reader starts reading the options of what ("rabbitmq connector orders").
func (o Options) Reader(what string) *OptionReader {
	return &OptionReader{opts: o, what: what, read: map[string]bool{}}
}

func (r *OptionReader) fail(p Pos, format string, args ...any) {
	if r.err == nil {
		r.err = &OptionError{Pos: p, Msg: r.what + ": " + fmt.Sprintf(format, args...)}
	}
}

func (r *OptionReader) get(key string, required bool) (Option, bool) {
	r.read[key] = true
	o, ok := r.opts.Get(key)
	if !ok && required {
		r.fail(r.opts.Pos, "missing %s", key)
	}
	return o, ok
}

// Has reports whether the key is set (and marks it read).
func (r *OptionReader) Has(key string) bool { _, ok := r.get(key, false); return ok }

// String reads a string (a bare name is accepted too).
func (r *OptionReader) String(key, def string, required bool) string {
	o, ok := r.get(key, required)
	if !ok {
		return def
	}
	if s, isStr := o.Value.(string); isStr {
		return s
	}
	r.fail(o.Pos, "%s: expected a string, found %v", key, o.Value)
	return def
}

// Value reads a string that may reference the environment (env(NAME), file(PATH), a literal).
func (r *OptionReader) Value(key string, required bool) Value {
	o, ok := r.get(key, required)
	if !ok {
		return Value{}
	}
	switch v := o.Value.(type) {
	case Value:
		return v
	case string:
		return Value{Pos: o.Pos, Parts: []ValuePart{{Literal: v}}}
	}
	r.fail(o.Pos, "%s: expected a string or env(NAME), found %v", key, o.Value)
	return Value{}
}

// Int reads a whole number.
func (r *OptionReader) Int(key string, def int) int {
	o, ok := r.get(key, false)
	if !ok {
		return def
	}
	if n, isInt := o.Value.(int64); isInt {
		return int(n)
	}
	r.fail(o.Pos, "%s: expected a whole number, found %v", key, o.Value)
	return def
}

// Bool reads true or false.
func (r *OptionReader) Bool(key string, def bool) bool {
	o, ok := r.get(key, false)
	if !ok {
		return def
	}
	if b, isBool := o.Value.(bool); isBool {
		return b
	}
	r.fail(o.Pos, "%s: expected true or false, found %v", key, o.Value)
	return def
}

// Duration reads a duration (30s, "5m").
func (r *OptionReader) Duration(key string, def time.Duration) time.Duration {
	o, ok := r.get(key, false)
	if !ok {
		return def
	}
	switch v := o.Value.(type) {
	case time.Duration:
		return v
	case string:
		if d, err := parseDuration(v); err == nil {
			return d
		}
	}
	r.fail(o.Pos, "%s: expected a duration such as 5s or 2m, found %v", key, o.Value)
	return def
}

// Strings reads a list of strings (a single string is a list of one).
func (r *OptionReader) Strings(key string) []string {
	o, ok := r.get(key, false)
	if !ok {
		return nil
	}
	switch v := o.Value.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, it := range v {
			s, isStr := it.(string)
			if !isStr {
				r.fail(o.Pos, "%s: expected a list of strings, found %v", key, it)
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	r.fail(o.Pos, "%s: expected a list of strings, found %v", key, o.Value)
	return nil
}

// Any reads a raw value (a JSON-like tree) without checking its shape.
func (r *OptionReader) Any(key string) (any, bool) {
	o, ok := r.get(key, false)
	return o.Value, ok
}

// Tree reads a value as a JSON-like tree: nested blocks become map[string]any, lists
// []any, durations their text ("5s"); for templates, payloads and parameters.
func (r *OptionReader) Tree(key string) (any, bool) {
	o, ok := r.get(key, false)
	if !ok {
		return nil, false
	}
	return Tree(o.Value), true
}

// Tree converts an option value to a JSON-like tree (see OptionReader.Tree).
func Tree(v any) any {
	switch v := v.(type) {
	case Options:
		m := make(map[string]any, len(v.Entries))
		for _, e := range v.Entries {
			m[e.Key] = Tree(e.Value)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = Tree(x)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = Tree(x)
		}
		return out
	case time.Duration:
		return v.String()
	}
	return v
}

// Block reads a nested block ({ … } or a list entry).
func (r *OptionReader) Block(key string) (Options, bool) {
	o, ok := r.get(key, false)
	if !ok {
		return Options{}, false
	}
	if b, isBlock := o.Value.(Options); isBlock {
		return b, true
	}
	r.fail(o.Pos, "%s: expected a block { … }, found %v", key, o.Value)
	return Options{}, false
}

// Blocks reads a list of blocks ([{ … }, { … }]); a single block is a list of one.
func (r *OptionReader) Blocks(key string) []Options {
	o, ok := r.get(key, false)
	if !ok {
		return nil
	}
	switch v := o.Value.(type) {
	case Options:
		return []Options{v}
	case []any:
		out := make([]Options, 0, len(v))
		for _, it := range v {
			b, isBlock := it.(Options)
			if !isBlock {
				r.fail(o.Pos, "%s: expected a list of blocks { … }, found %v", key, it)
				return nil
			}
			out = append(out, b)
		}
		return out
	}
	r.fail(o.Pos, "%s: expected a list of blocks, found %v", key, o.Value)
	return nil
}

// Fail records a problem found by the caller's own checks.
func (r *OptionReader) Fail(key string, format string, args ...any) {
	p := r.opts.Pos
	if o, ok := r.opts.Get(key); ok {
		p = o.Pos
	}
	r.fail(p, "%s: %s", key, fmt.Sprintf(format, args...))
}

// Done returns the first problem, or an error naming the keys that were never read.
func (r *OptionReader) Done() error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for _, e := range r.opts.Entries {
		if !r.read[e.Key] {
			unknown = append(unknown, e.Key)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(r.read))
	for k := range r.read {
		known = append(known, k)
	}
	sort.Strings(known)
	first, _ := r.opts.Get(unknown[0])
	return &OptionError{Pos: first.Pos, Msg: fmt.Sprintf("%s: unknown setting %s; expected %s", r.what, strings.Join(unknown, ", "), strings.Join(known, ", "))}
}

// Flow is `flow NAME { … }`: messages from a source through steps into sinks (seed 002).
type Flow struct {
	Pos         Pos
	Name        string
	Description string
	Source      Endpoint
	Steps       []*Step
	Sinks       []*Sink
	OnError     *ErrorPolicy // nil without on_error
	MaxInFlight int          // messages being processed at once (back-pressure); 0 = default
	Monitoring  Monitoring
}

// Endpoint is a flow's source: a connector and this flow's options for it.
type Endpoint struct {
	Pos       Pos
	Connector string
	Options   Options
}

// Sink is a named destination of a flow; routes send messages to sinks by name. A flow
// without a route step sends every message to every sink.
type Sink struct {
	Pos       Pos
	Name      string
	Connector string
	Options   Options
}

// Step kinds.
const (
	StepTransform = "transform"
	StepValidate  = "validate"
	StepEnrich    = "enrich"
	StepFilter    = "filter"
	StepRoute     = "route"
	StepSplit     = "split"
)

// Step is one processing step; Kind says which of the fields is set.
type Step struct {
	Pos  Pos
	Name string
	Kind string

	Template any // transform: a mapping template (strings starting with "$" are JSONPath)

	Schema     any    // validate: an inline JSON Schema
	SchemaFile string // validate: a schema file, relative to the configuration file

	Integration string         // enrich: integration name
	Operation   string         // enrich: operation name
	Params      map[string]any // enrich: parameters (JSONPath strings or literals)
	As          string         // enrich: member of the message the result goes to

	Condition string // filter: expression; messages for which it is false are dropped

	Routes []Route // route: first matching condition wins

	Path string // split: JSONPath of the array whose elements become messages
}

// Route sends messages for which When holds (or all, when Else) to sinks.
type Route struct {
	Pos  Pos
	When string // expression; "" for the else branch
	To   []string
}

// ErrorPolicy is `on_error`: what happens when a step or sink fails. The retry is
// written as everywhere else; then the message goes to a named dead-letter queue.
type ErrorPolicy struct {
	Pos        Pos
	Retry      *Retry // nil: no retries, the message goes to the queue at once
	DeadLetter string // "" means a queue named after the flow
}

// Monitoring is a flow's observability settings.
type Monitoring struct {
	Metrics        bool
	Tracing        bool
	LogLevel       string
	IncludePayload bool
}
