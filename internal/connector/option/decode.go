package option

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/config"
)

// Input is what Decode reads.
type Input struct {
	What    string // how messages name the block: "rabbitmq connector orders"
	Options config.Options
	Role    Role
	Lookup  config.LookupEnv // resolves Secret options
}

// Decode reads the options of a block against the spec: every option is checked
// (type, enum, bounds, Parse), defaults fill what is not set, what the role requires
// must be set, keys the spec does not declare are errors, and Spec.Check runs last.
// The error joins every problem, each a *config.OptionError with its position; a Secret
// that cannot be resolved is one whose cause is a *config.MissingError. The Values are
// complete only when the error is nil.
func (s *Spec) Decode(in Input) (*Values, error) {
	var errs []error
	v := decodeBlock(in.What, s.Fields, in.Options, in.Role, in.Lookup, &errs)
	if s.Check != nil {
		s.Check(v, in.Role)
	}
	return v, errors.Join(errs...)
}

// Values are a decoded block: every declared option, set or defaulted.
type Values struct {
	what   string
	fields []Field
	opts   config.Options
	lookup config.LookupEnv
	vals   map[string]any // of the fields' types
	parsed map[string]any // what Parse made of them
	set    map[string]bool
	failed map[string]bool
	errs   *[]error // shared by the nested blocks of one Decode
}

func decodeBlock(what string, fields []Field, opts config.Options, role Role, lookup config.LookupEnv, errs *[]error) *Values {
	v := &Values{
		what: what, fields: fields, opts: opts, lookup: lookup, errs: errs,
		vals: make(map[string]any, len(fields)), parsed: map[string]any{}, set: map[string]bool{}, failed: map[string]bool{},
	}
	v.checkKeys()
	for _, f := range fields {
		v.decodeField(f, role)
	}
	return v
}

// checkKeys reports keys the spec does not declare, and keys set twice.
func (v *Values) checkKeys() {
	names := make([]string, 0, len(v.fields))
	for _, f := range v.fields {
		names = append(names, f.Name)
	}
	seen := map[string]config.Pos{}
	for _, e := range v.opts.Entries {
		switch first, dup := seen[e.Key]; {
		case !slices.Contains(names, e.Key):
			msg := "unknown setting " + e.Key
			if s := config.Suggest(e.Key, names); s != "" {
				msg += "; did you mean " + s + "?"
			} else {
				slices.Sort(names)
				msg += "; expected one of " + strings.Join(names, ", ")
			}
			v.report(v.posOf(e), msg, nil)
		case dup:
			v.failed[e.Key] = true
			v.report(v.posOf(e), fmt.Sprintf("%s is set twice (first at line %d)", e.Key, first.Line), nil)
		default:
			seen[e.Key] = e.Pos
		}
	}
}

func (v *Values) decodeField(f Field, role Role) {
	e, ok := v.opts.Get(f.Name)
	if !ok {
		v.unset(f, role)
		return
	}
	v.set[f.Name] = true
	v.vals[f.Name] = f.Type.zero()
	before := len(*v.errs)
	val, err := v.read(f, e, role)
	if err == nil {
		err = f.check(val, role)
	}
	if err == nil && len(*v.errs) > before {
		v.failed[f.Name] = true // a nested block reported its own problems
		return
	}
	var parsed any
	if err == nil && f.Parse != nil {
		parsed, err = f.Parse(val)
		if err == nil && len(*v.errs) > before {
			v.failed[f.Name] = true // Parse reported at a nested block's own keys (see TLS)
			return
		}
	}
	if err != nil {
		v.failed[f.Name] = true
		v.report(v.posOf(e), f.Name+": "+err.Error(), err)
		return
	}
	v.vals[f.Name] = val
	if f.Parse != nil {
		v.parsed[f.Name] = parsed
	}
}

// unset gives an option that is not set its default (and what Parse makes of it), or
// reports it missing when the role requires it.
func (v *Values) unset(f Field, role Role) {
	if f.Required&role != 0 {
		v.missing(f, role)
	}
	if f.Default == nil {
		v.vals[f.Name] = f.Type.zero()
		return
	}
	v.vals[f.Name] = f.Default
	if f.Parse != nil {
		parsed, err := f.Parse(f.Default)
		if err != nil {
			panic(fmt.Sprintf("option: %s: the default of %s does not parse: %v", v.what, f.Name, err))
		}
		v.parsed[f.Name] = parsed
	}
}

// check applies the bounds, and a required option's not being empty.
func (f Field) check(val any, role Role) error {
	if err := f.bounds(val); err != nil {
		return err
	}
	if f.Required&role != 0 && empty(val) {
		return errors.New("must not be empty")
	}
	return nil
}

// missing reports a required option that is not set.
func (v *Values) missing(f Field, role Role) {
	v.failed[f.Name] = true
	msg := "missing " + f.Name
	if f.Required != Always {
		msg += ", which a " + roleName(role) + " needs"
	}
	if s := firstSentence(f.Description); s != "" {
		msg += ": " + s
	}
	v.report(v.opts.Pos, msg, nil)
}

func (v *Values) report(pos config.Pos, msg string, cause error) {
	*v.errs = append(*v.errs, &config.OptionError{Pos: pos, Msg: v.what + ": " + msg, Err: cause})
}

// posOf is where an option is written: its key, else its value, else the block.
func (v *Values) posOf(e config.Option) config.Pos {
	if e.Pos.Line != 0 {
		return e.Pos
	}
	if val, ok := e.Value.(config.Value); ok && val.Pos.Line != 0 {
		return val.Pos
	}
	return v.opts.Pos
}

// read converts an option's value to its field's type.
func (v *Values) read(f Field, e config.Option, role Role) (any, error) {
	switch f.Type {
	case String:
		return v.readString(f, e.Value)
	case Int:
		if n, ok := e.Value.(int64); ok {
			return int(n), nil
		}
		return nil, v.expected(f, "a whole number", e.Value)
	case Bool:
		if b, ok := e.Value.(bool); ok {
			return b, nil
		}
		return nil, v.expected(f, "true or false", e.Value)
	case Duration:
		return readDuration(f, e.Value)
	case Strings:
		return readStrings(f, e.Value)
	case Block:
		return v.readBlock(f, e, role)
	case Blocks:
		return v.readBlocks(f, e, role)
	case Map:
		if b, ok := e.Value.(config.Options); ok {
			return b, nil
		}
		return nil, v.expected(f, "a block { … }", e.Value)
	}
	return v.readAny(f, e.Value)
}

func (v *Values) readString(f Field, val any) (any, error) {
	switch s := val.(type) {
	case string:
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return nil, enumError(f, fmt.Sprintf("%q", s))
		}
		return s, nil
	case config.Value:
		if !f.Secret {
			return nil, errors.New("env(…) and file(…) are not allowed here; write the value itself")
		}
		return v.resolve(s)
	}
	what := "a string"
	if f.Secret {
		what = "a string, env(NAME) or file(PATH)"
	}
	return nil, v.expected(f, what, val)
}

// resolve reads a Secret's env(NAME) or file(PATH).
func (v *Values) resolve(val config.Value) (string, error) {
	lookup := v.lookup
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return val.Resolve(lookup)
}

func readDuration(f Field, val any) (any, error) {
	switch d := val.(type) {
	case time.Duration:
		return d, nil
	case string:
		if parsed, err := config.ParseDuration(d); err == nil {
			return parsed, nil
		}
	}
	return nil, fmt.Errorf("expected a duration such as 5s or 2m, found %s", show(f, val))
}

func readStrings(f Field, val any) (any, error) {
	switch list := val.(type) {
	case string:
		return []string{list}, nil
	case []any:
		out := make([]string, 0, len(list))
		for _, it := range list {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("expected a list of strings, found %s in it", show(f, it))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list of strings, found %s", show(f, val))
}

func (v *Values) readBlock(f Field, e config.Option, role Role) (any, error) {
	what := v.what + ": " + f.Name
	switch b := e.Value.(type) {
	case config.Options:
		return decodeBlock(what, f.Fields, b, role, v.lookup, v.errs), nil
	case string:
		if f.Shorthand != "" {
			pos := v.posOf(e)
			b := config.Options{Pos: pos, Entries: []config.Option{{Pos: pos, Key: f.Shorthand, Value: b}}}
			return decodeBlock(what, f.Fields, b, role, v.lookup, v.errs), nil
		}
	case bool:
		if f.Switch && !b {
			return (*Values)(nil), nil
		}
		if f.Switch {
			return decodeBlock(what, f.Fields, config.Options{Pos: v.posOf(e)}, role, v.lookup, v.errs), nil
		}
	}
	want := "a block " + outline(f.Fields)
	switch {
	case f.Shorthand != "":
		want = "a string (the " + f.Shorthand + ") or " + want
	case f.Switch:
		want = "true, false or " + want
	}
	return nil, v.expected(f, want, e.Value)
}

func (v *Values) readBlocks(f Field, e config.Option, role Role) (any, error) {
	switch b := e.Value.(type) {
	case config.Options:
		return []*Values{decodeBlock(fmt.Sprintf("%s: %s[0]", v.what, f.Name), f.Fields, b, role, v.lookup, v.errs)}, nil
	case []any:
		out := make([]*Values, 0, len(b))
		for i, it := range b {
			block, ok := it.(config.Options)
			if !ok {
				return nil, fmt.Errorf("expected a list of blocks %s, found %s in it", outline(f.Fields), show(f, it))
			}
			out = append(out, decodeBlock(fmt.Sprintf("%s: %s[%d]", v.what, f.Name, i), f.Fields, block, role, v.lookup, v.errs))
		}
		return out, nil
	}
	return nil, v.expected(f, "a list of blocks "+outline(f.Fields), e.Value)
}

func (v *Values) readAny(f Field, val any) (any, error) {
	if len(f.Enum) > 0 {
		var text string
		switch x := val.(type) {
		case string:
			text = x
		case int64:
			text = fmt.Sprint(x)
		default:
			return nil, enumError(f, show(f, val))
		}
		if !slices.Contains(f.Enum, text) {
			return nil, enumError(f, fmt.Sprintf("%q", text))
		}
	}
	if f.Secret {
		return v.resolveTree(val)
	}
	return val, nil
}

// resolveTree resolves the env(NAME) and file(PATH) values inside a value, keeping
// blocks as blocks (their keys keep the order they are written in).
func (v *Values) resolveTree(val any) (any, error) {
	switch x := val.(type) {
	case config.Value:
		return v.resolve(x)
	case config.Options:
		out := config.Options{Pos: x.Pos, Entries: make([]config.Option, len(x.Entries))}
		for i, e := range x.Entries {
			r, err := v.resolveTree(e.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.Key, err)
			}
			out.Entries[i] = config.Option{Pos: e.Pos, Key: e.Key, Value: r}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			r, err := v.resolveTree(it)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return val, nil
}

func (v *Values) expected(f Field, what string, val any) error {
	return fmt.Errorf("expected %s, found %s", what, show(f, val))
}

func enumError(f Field, found string) error {
	msg := fmt.Sprintf("expected %s, found %s", orList(f.Enum), found)
	if s := config.Suggest(strings.Trim(found, `"`), f.Enum); s != "" {
		msg += "; did you mean " + s + "?"
	}
	return errors.New(msg)
}

// bounds checks Min and Max.
func (f Field) bounds(val any) error {
	if f.Min == nil && f.Max == nil {
		return nil
	}
	switch x := val.(type) {
	case int:
		lo, hasLo := f.Min.(int)
		hi, hasHi := f.Max.(int)
		return checkBounds(x, lo, hi, hasLo, hasHi, "a number")
	case time.Duration:
		lo, hasLo := f.Min.(time.Duration)
		hi, hasHi := f.Max.(time.Duration)
		return checkBounds(x, lo, hi, hasLo, hasHi, "a duration")
	}
	return nil
}

func checkBounds[T int | time.Duration](x, lo, hi T, hasLo, hasHi bool, kind string) error {
	switch {
	case hasLo && hasHi && (x < lo || x > hi):
		return fmt.Errorf("expected %s from %v to %v, found %v", kind, lo, hi, x)
	case hasLo && x < lo && lo == 0:
		return fmt.Errorf("must not be negative, found %v", x)
	case hasLo && x < lo:
		return fmt.Errorf("must be at least %v, found %v", lo, x)
	case hasHi && x > hi:
		return fmt.Errorf("must be at most %v, found %v", hi, x)
	}
	return nil
}

func empty(val any) bool {
	switch x := val.(type) {
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []*Values:
		return len(x) == 0
	}
	return false
}

// show renders a value found where another was expected; a Secret's only by its kind.
func show(f Field, val any) string {
	switch x := val.(type) {
	case config.Options:
		return "a block"
	case []any:
		return "a list"
	case config.Value:
		return x.String() // references only, as written
	case string:
		if f.Secret {
			return "a string"
		}
		return fmt.Sprintf("%q", x)
	case nil:
		return "null"
	}
	if f.Secret {
		return fmt.Sprintf("a %T", val)
	}
	return fmt.Sprint(val)
}

// outline is a block's keys as messages show them: { name, durable, arguments }.
func outline(fields []Field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	return "{ " + strings.Join(names, ", ") + " }"
}

// orList writes "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ".")
}
