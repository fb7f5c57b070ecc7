package config

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decoder turns syntax trees into the model. Every problem is reported with its position
// and decoding goes on, so one run shows all of a file's mistakes.
type decoder struct {
	rep *reporter
	// fragment relaxes the checks that need a whole integration (an operation without a
	// path, a missing threshold), for documentation snippets that show one setting.
	fragment bool
	// messageWritten marks the websocket operations whose message: was written, valid
	// or not, so that a missing one is told apart from one already reported.
	messageWritten map[*SocketRequest]bool
}

// setting handles one key of a block.
type setting func(e *Entry)

// block decodes the entries of one block: each key is dispatched to its handler; a key
// given twice, or one the block does not know, is an error that names the alternatives.
// Colon-less entries that pack several settings on one line (`threshold 5 timeout "30s"`)
// are split first.
func (d *decoder) block(what string, entries []*Entry, settings map[string]setting) {
	seen := map[string]Pos{}
	for _, e := range entries {
		d.annotationsHaveNoEffect(e, e.Key+" in "+what)
	}
	for _, e := range splitPairs(entries, settings) {
		handle, ok := settings[e.Key]
		if !ok {
			d.unknownKey(what, e, settings)
			continue
		}
		if first, dup := seen[e.Key]; dup && !repeatable[e.Key] {
			d.rep.errorf(e.KeyPos, "%s is set twice in %s (first at line %d)", e.Key, what, first.Line)
			continue
		}
		seen[e.Key] = e.KeyPos
		handle(e)
	}
}

func (d *decoder) unknownKey(what string, e *Entry, settings map[string]setting) {
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := fmt.Sprintf("unknown setting %q in %s", e.Key, what)
	if s := suggest(e.Key, keys); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; expected one of " + strings.Join(keys, ", ")
	}
	d.rep.errorf(e.KeyPos, "%s", msg)
}

// repeatable are the keys a block may hold more than once: each declares one more item.
var repeatable = map[string]bool{"operation": true, "event": true, "step": true, "sink": true, "trigger": true}

// splitPairs expands colon-less entries whose words continue with further known keys:
// `retry 5 initial_interval "1s" backoff 2.0` becomes three entries.
func splitPairs(entries []*Entry, settings map[string]setting) []*Entry {
	var out []*Entry
	for _, e := range entries {
		if e.Colon || e.Value == nil || len(e.Value.Words) < 3 {
			out = append(out, e)
			continue
		}
		cur := &Entry{KeyPos: e.KeyPos, Key: e.Key, Value: &Phrase{Pos: e.Value.Pos, Words: e.Value.Words[:1]}}
		ws := e.Value.Words[1:]
		for len(ws) > 0 {
			id, isIdent := ws[0].(*Ident)
			if _, known := settings[identName(id)]; isIdent && known && len(ws) > 1 {
				out = append(out, cur)
				cur = &Entry{KeyPos: id.P, Key: id.Name, Value: &Phrase{Pos: ws[1].Position(), Words: ws[1:2]}}
				ws = ws[2:]
				continue
			}
			cur.Value.Words = append(cur.Value.Words, ws[0])
			ws = ws[1:]
		}
		cur.Value.Modifiers = e.Value.Modifiers
		out = append(out, cur)
	}
	return out
}

func identName(id *Ident) string {
	if id == nil {
		return ""
	}
	return id.Name
}

// words returns an entry's words. A single string where words are expected is parsed
// as words: `timeout "10s"` in the colon-less dialect and `retry: "3 times"` in YAML mean
// what they would mean unquoted.
func (d *decoder) words(ph *Phrase) *Phrase {
	if ph == nil {
		return &Phrase{}
	}
	if s, ok := ph.Single().(*String); ok && !s.Triple {
		if inner := d.reparse(s); inner != nil {
			return inner
		}
	}
	return ph
}

// reparse parses the text of a string as a phrase, with positions inside the string.
func (d *decoder) reparse(s *String) *Phrase {
	rep := &reporter{}
	base := s.P
	base.Col += s.offset()
	ph := parsePhraseText(base, s.Value, rep)
	if rep.errors > 0 || ph == nil || len(ph.Words) == 0 {
		return nil
	}
	return ph
}

// expect reports that an entry's value is not of the expected form.
func (d *decoder) expect(e *Entry, expected string) {
	found := "nothing"
	if e.Value != nil && (len(e.Value.Words) > 0 || len(e.Value.Modifiers) > 0) {
		found = truncate(phraseText(e.Value), 50)
	}
	p := e.KeyPos
	if e.Value != nil && len(e.Value.Words) > 0 {
		p = e.Value.Words[0].Position()
	}
	d.rep.errorf(p, "%s: expected %s, found %s", e.Key, expected, found)
}

// single returns the one word of the entry (after string re-parsing), or reports.
func (d *decoder) single(e *Entry, expected string) Node {
	n := d.words(e.Value).Single()
	if n == nil {
		d.expect(e, expected)
	}
	return n
}

func (d *decoder) str(e *Entry) (string, bool) {
	if s, ok := e.Value.Single().(*String); ok {
		return s.Value, true
	}
	d.expect(e, "a quoted string")
	return "", false
}

// name accepts a bare name or a string: `method: GET`, `type rest`, `header: "X-Key"`.
func (d *decoder) name(e *Entry, expected string) (string, bool) {
	switch n := e.Value.Single().(type) {
	case *Ident:
		return n.Name, true
	case *String:
		return n.Value, true
	}
	d.expect(e, expected)
	return "", false
}

func (d *decoder) duration(e *Entry) (time.Duration, bool) {
	n := d.single(e, "a duration such as 500ms, 30s, 5m, 2h or 7d")
	if n == nil {
		return 0, false
	}
	v, err := durationOf(n)
	if err != nil {
		d.rep.errorf(n.Position(), "%s: %v", e.Key, err)
		return 0, false
	}
	return v, true
}

// durationOf reads a duration literal (30s, 1h30m, 7d) or a zero.
func durationOf(n Node) (time.Duration, error) {
	switch v := n.(type) {
	case *Duration:
		return parseDuration(v.Text)
	case *Number:
		if f, err := strconv.ParseFloat(v.Text, 64); err == nil && f == 0 {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("expected a duration such as 500ms, 30s, 5m, 2h or 7d, found %s", Text(n))
}

// parseDuration extends time.ParseDuration with days (d) and weeks (w).
func parseDuration(s string) (time.Duration, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		j := i
		for j < len(s) && (s[j] < '0' || s[j] > '9') {
			j++
		}
		num, unit := s[:i], s[i:j]
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || unit == "" {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		scale, ok := unitScale[unit]
		if !ok {
			return 0, fmt.Errorf("invalid duration unit %q: expected ms, s, m, h, d or w", unit)
		}
		total += f * float64(scale)
		s = s[j:]
	}
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("duration too long")
	}
	if neg {
		return 0, fmt.Errorf("negative durations are not allowed")
	}
	return time.Duration(total), nil
}

var unitScale = map[string]time.Duration{
	"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
	"m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// integer reads a whole number within [min, max].
func (d *decoder) integer(e *Entry, min, max int) (int, bool) {
	n := d.single(e, "a whole number")
	if n == nil {
		return 0, false
	}
	v, err := intOf(n)
	if err != nil {
		d.rep.errorf(n.Position(), "%s: %v", e.Key, err)
		return 0, false
	}
	if v < min || v > max {
		d.rep.errorf(n.Position(), "%s: expected a number from %d to %d, found %d", e.Key, min, max, v)
		return 0, false
	}
	return v, true
}

func intOf(n Node) (int, error) {
	num, ok := n.(*Number)
	if !ok {
		return 0, fmt.Errorf("expected a whole number, found %s", Text(n))
	}
	v, err := strconv.ParseInt(num.Text, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("expected a whole number, found %s", num.Text)
	}
	return int(v), nil
}

func (d *decoder) float(e *Entry) (float64, bool) {
	n := d.single(e, "a number")
	if n == nil {
		return 0, false
	}
	num, ok := n.(*Number)
	if !ok {
		d.expect(e, "a number")
		return 0, false
	}
	f, err := strconv.ParseFloat(num.Text, 64)
	if err != nil || math.IsInf(f, 0) {
		d.rep.errorf(num.P, "%s: expected a number, found %s", e.Key, num.Text)
		return 0, false
	}
	return f, true
}

func (d *decoder) boolean(e *Entry) (bool, bool) {
	if id, ok := d.words(e.Value).Single().(*Ident); ok && (id.Name == "true" || id.Name == "false") {
		return id.Name == "true", true
	}
	d.expect(e, "true or false")
	return false, false
}

// object returns the entries of a `{ … }` value. kind is set for typed blocks such as
// `auth: aws_signature_v4 { … }` or `auth bearer { … }`.
func (d *decoder) object(e *Entry) (kind string, entries []*Entry, ok bool) {
	ws := e.Value.Words
	if len(e.Value.Modifiers) == 0 {
		switch {
		case len(ws) == 1:
			if o, isObj := ws[0].(*Object); isObj {
				return "", o.Entries, true
			}
		case len(ws) == 2:
			id, isIdent := ws[0].(*Ident)
			o, isObj := ws[1].(*Object)
			if isIdent && isObj {
				return id.Name, o.Entries, true
			}
		}
	}
	d.expect(e, "a block { … }")
	return "", nil, false
}

// list returns the items of a `[ … ]` value.
func (d *decoder) list(e *Entry, expected string) ([]*Phrase, bool) {
	if l, ok := d.words(e.Value).Single().(*List); ok {
		return l.Items, true
	}
	d.expect(e, expected)
	return nil, false
}

// value reads a string setting that may reference the environment: "literal",
// "Bearer $TOKEN", env(NAME), file("/run/secrets/x").
func (d *decoder) value(e *Entry) (Value, bool) {
	n := e.Value.Single()
	if n == nil {
		d.expect(e, `a string, env(NAME) or file("path")`)
		return Value{}, false
	}
	return d.valueOf(e.Key, n)
}

func (d *decoder) valueOf(key string, n Node) (Value, bool) {
	switch v := n.(type) {
	case *String:
		return d.stringValue(key, v)
	case *Call:
		return d.callValue(key, v)
	}
	d.rep.errorf(n.Position(), `%s: expected a string, env(NAME) or file("path"), found %s`, key, Text(n))
	return Value{}, false
}

// stringValue reads "literal" or "Bearer $TOKEN".
func (d *decoder) stringValue(key string, v *String) (Value, bool) {
	if v.FromData {
		// YAML and JSON have no calls: "env(NAME)" written as a string means the call.
		if ph := d.reparse(v); ph != nil {
			if c, ok := ph.Single().(*Call); ok && (c.Name == "env" || c.Name == "file") {
				return d.valueOf(key, c)
			}
		}
	}
	parts, err := interpolate(v.Value)
	if err != nil {
		d.rep.errorf(v.P, "%s: %v", key, err)
		return Value{}, false
	}
	return Value{Pos: v.P, Parts: parts}, true
}

// callValue reads env(NAME) or file("path").
func (d *decoder) callValue(key string, v *Call) (Value, bool) {
	if part, ok := reference(v); ok {
		return Value{Pos: v.P, Parts: []ValuePart{part}}, true
	}
	if v.Name == "env" {
		d.rep.errorf(v.P, "%s: expected env(NAME) with one variable name of letters, digits and _", key)
	} else {
		d.rep.errorf(v.P, `%s: expected a string, env(NAME) or file("path"), found %s`, key, Text(v))
	}
	return Value{}, false
}

// reference is what env(NAME), env("NAME") or file("path") refers to; ok is false for
// any other call.
func reference(v *Call) (_ ValuePart, ok bool) {
	if v.Name != "env" && v.Name != "file" || len(v.Args) != 1 {
		return ValuePart{}, false
	}
	switch a := v.Args[0].Single().(type) {
	case *Ident:
		if v.Name == "env" && isEnvName(a.Name) {
			return ValuePart{Env: a.Name}, true
		}
	case *String:
		if v.Name == "env" && isEnvName(a.Value) {
			return ValuePart{Env: a.Value}, true
		}
		if v.Name == "file" && a.Value != "" {
			return ValuePart{File: a.Value}, true
		}
	}
	return ValuePart{}, false
}

// literalNames are the names that are values: true, false and null.
var literalNames = map[string]any{"true": true, "false": false, "null": nil}

// jsonValue converts a literal node into a JSON value (default(…), fallback defaults).
func (d *decoder) jsonValue(key string, n Node) (any, bool) {
	switch v := n.(type) {
	case *String:
		return v.Value, true
	case *Number:
		if x, ok := jsonNumber(v.Text); ok {
			return x, true
		}
	case *Duration:
		return v.Text, true
	case *Ident:
		if x, ok := literalNames[v.Name]; ok {
			return x, true
		}
	case *List:
		return d.jsonList(key, v)
	case *Object:
		return d.jsonObject(key, v)
	}
	d.rep.errorf(n.Position(), "%s: expected a literal value (string, number, true, false, null, [list] or {object}), found %s", key, Text(n))
	return nil, false
}

// jsonNumber is a number literal as an int64 when it is one, else as a finite float64.
func jsonNumber(text string) (any, bool) {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, true
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsInf(f, 0) {
		return f, true
	}
	return nil, false
}

func (d *decoder) jsonList(key string, l *List) (any, bool) {
	out := make([]any, 0, len(l.Items))
	for _, it := range l.Items {
		w := it.Single()
		if w == nil {
			d.rep.errorf(it.Pos, "%s: expected one value per list item, found %s", key, phraseText(it))
			return nil, false
		}
		x, ok := d.jsonValue(key, w)
		if !ok {
			return nil, false
		}
		out = append(out, x)
	}
	return out, true
}

func (d *decoder) jsonObject(key string, o *Object) (any, bool) {
	out := make(map[string]any, len(o.Entries))
	for _, e := range o.Entries {
		if _, dup := out[e.Key]; dup {
			d.rep.errorf(e.KeyPos, "%s: %q is given twice in this object", key, e.Key)
			return nil, false
		}
		w := e.Value.Single()
		if w == nil {
			d.rep.errorf(e.KeyPos, "%s: %s: expected one value, found %s", key, e.Key, phraseText(e.Value))
			return nil, false
		}
		x, ok := d.jsonValue(key, w)
		if !ok {
			return nil, false
		}
		out[e.Key] = x
	}
	return out, true
}

// suggest returns the candidate closest to s when it is close enough to be a typo. Of
// equally close candidates it takes the first in alphabetical order, so the message is
// the same on every run whatever order the candidates come in (often a map's keys).
func suggest(s string, candidates []string) string {
	limit := 2
	if len(s) <= 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if dist := editDistance(s, c); dist < bestDist || dist == bestDist && c < best {
			best, bestDist = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
