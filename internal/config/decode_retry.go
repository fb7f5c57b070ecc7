package config

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The one grammar of a retry. It is written the same way everywhere:
//
//	retry: N times [with exponential_backoff[(INITIAL, max MAX, multiplier F)] | constant_backoff[(DELAY)]
//	                | linear_backoff[(INITIAL, max MAX)]]
//	retry: { attempts: N, backoff: exponential|constant|linear, initial: D, max: D, multiplier: F }
//	retry { max_attempts 3  initial_interval "1s"  backoff_multiplier 2.0 }   CodeAI's names
//	retry_delays: [D, …]                                      beside retry: an exact schedule
//	on_error: retry N times [with …] then dead_letter("name")  a flow's retry, then its queue
//	retry 5 initial_interval "1s" backoff 2.0                  the colon-less webhook's words
//
// `backoff` always names how the delay grows: exponential, constant, linear, or a number, which
// is an exponential back-off growing by that factor. Everything decodes into a Retry;
// the defaults of each use live in package policy/retry.

// retryForm is the phrase form, for messages.
const retryForm = "N times [with exponential_backoff(INITIAL, max MAX, multiplier F) | constant_backoff(DELAY) | linear_backoff(INITIAL, max MAX)]"

// backoffWords lists the words that may follow `with`, for messages.
const backoffWords = "exponential_backoff, constant_backoff or linear_backoff"

// maxRetries bounds N: more retries than this is a mistake, not a policy.
const maxRetries = 100

// retry reads the value of a `retry` setting: the phrase, a bare count (`retry 5`), or
// a block { attempts, backoff, initial, max, multiplier }. The block also takes CodeAI's
// names for three of them (max_attempts, initial_interval, backoff_multiplier); a block
// giving both names of one setting is an error.
func (d *decoder) retry(e *Entry) *Retry {
	if _, entries, isBlock := d.objectQuiet(e); isBlock {
		r := &Retry{Pos: e.KeyPos, Backoff: BackoffExponential}
		settings := d.backoffSettings(r, nil, "backoff", "initial", "initial_interval", "max", "multiplier", "backoff_multiplier")
		settings["attempts"] = func(e *Entry) { r.Attempts, _ = d.integer(e, 0, maxRetries) }
		settings["max_attempts"] = settings["attempts"]
		d.checkSynonyms("retry", entries, [][2]string{{"attempts", "max_attempts"}, {"initial", "initial_interval"}, {"multiplier", "backoff_multiplier"}})
		d.block("retry", entries, settings)
		d.checkBackoff(r, e.KeyPos)
		return r
	}
	ws := d.words(e.Value).Words
	if len(ws) == 0 {
		d.expect(e, retryForm)
		return nil
	}
	r, rest, next, ok := d.retryWords(e.Key, e.KeyPos, ws)
	if !ok {
		return nil
	}
	if len(rest) > 0 {
		if next == "" {
			next = "nothing more"
		}
		d.trailing(e.Key, ws, rest, next)
		return nil
	}
	return r
}

// trailing reports the words left after what a setting's grammar could read.
func (d *decoder) trailing(key string, ws, rest []Node, expected string) {
	found := truncate(wordsText(rest), 50)
	if read := len(ws) - len(rest); read > 0 {
		d.rep.errorf(rest[0].Position(), "%s: expected %s after %s, found %s", key, expected, wordsText(ws[:read]), found)
		return
	}
	d.rep.errorf(rest[0].Position(), "%s: expected %s, found %s", key, expected, found)
}

// retryWords reads `N [times] [with BACKOFF]` from the start of ws and returns the words
// after it, and what the grammar would allow there ("" when nothing), for the caller's
// message when they are not what the caller expects either.
func (d *decoder) retryWords(key string, at Pos, ws []Node) (r *Retry, rest []Node, next string, ok bool) {
	const backoffs = backoffWords
	n, err := intOf(ws[0])
	if err != nil || n < 0 || n > maxRetries {
		d.rep.errorf(ws[0].Position(), "%s: expected the number of retries (0 to %d), such as 3 times, found %s", key, maxRetries, Text(ws[0]))
		return nil, nil, "", false
	}
	r = &Retry{Pos: at, Attempts: n, Backoff: BackoffExponential}
	rest = ws[1:]
	next = "times or with " + backoffs
	if len(rest) > 0 && (isWord(rest[0], "times") || isWord(rest[0], "time")) {
		rest, next = rest[1:], "with "+backoffs
	}
	if len(rest) == 0 || !isWord(rest[0], "with") {
		return r, rest, next, true
	}
	with := rest[0]
	if len(rest) < 2 {
		d.rep.errorf(with.Position(), "%s: expected %s after with, found nothing", key, backoffs)
		return nil, nil, "", false
	}
	if !d.backoffWord(key, r, rest[1]) {
		return nil, nil, "", false
	}
	return r, rest[2:], "", true
}

// backoffWord reads the word after `with`: exponential_backoff, constant_backoff or
// linear_backoff, bare or with arguments.
func (d *decoder) backoffWord(key string, r *Retry, n Node) bool {
	switch w := n.(type) {
	case *Ident:
		switch w.Name {
		case "exponential_backoff":
			return true
		case "constant_backoff":
			r.Backoff = BackoffConstant
			return true
		case "linear_backoff":
			r.Backoff = BackoffLinear
			return true
		}
	case *Call:
		switch w.Name {
		case "exponential_backoff":
			return d.exponentialArgs(key, r, w)
		case "constant_backoff":
			r.Backoff = BackoffConstant
			return d.constantArgs(key, r, w)
		case "linear_backoff":
			// The same arguments as the exponential back-off's, but for the multiplier:
			// a linear delay grows by the first delay.
			r.Backoff = BackoffLinear
			if !d.exponentialArgs(key, r, w) {
				return false
			}
			if r.Multiplier > 0 {
				d.rep.errorf(w.P, "%s: linear_backoff grows by the first delay each retry; it takes no multiplier", key)
				return false
			}
			return true
		}
	}
	d.rep.errorf(n.Position(), "%s: expected %s after with, found %s", key, backoffWords, Text(n))
	return false
}

// exponentialArgs reads exponential_backoff(1s, max 60s, multiplier 3): the first delay,
// then named arguments (initial may be named too).
func (d *decoder) exponentialArgs(key string, r *Retry, c *Call) bool {
	what := key + ": " + c.Name
	seen := map[string]bool{}
	ok := true
	for i, a := range c.Args {
		name, value := backoffArg(i, a)
		if seen[name] {
			d.rep.errorf(a.Pos, "%s: %s is given twice", what, name)
			ok = false
			continue
		}
		seen[name] = true
		switch name {
		case "initial":
			r.Initial, ok = d.positiveDurationOf(what, value, ok)
		case "max":
			r.Max, ok = d.positiveDurationOf(what+": max", value, ok)
		case "multiplier":
			f, fine := factorOf(value)
			if !fine {
				d.rep.errorf(value.Position(), "%s: multiplier: expected a factor from 1 to 10, found %s", what, Text(value))
				ok = false
			}
			r.Multiplier = f
		default:
			d.rep.errorf(a.Pos, "%s: expected the first delay (such as 1s), max DURATION or multiplier FACTOR, found %s", what, truncate(phraseText(a), 40))
			ok = false
		}
	}
	if ok && r.Initial > 0 && r.Max > 0 && r.Max < r.Initial {
		d.rep.errorf(c.P, "%s: max %s is shorter than the first delay %s", what, r.Max, r.Initial)
		ok = false
	}
	return ok
}

// backoffArg splits argument i of exponential_backoff into its name and value: `max
// 60s`, or a value alone, which is the first delay when it comes first.
func backoffArg(i int, a *Phrase) (name string, value Node) {
	value = a.Single()
	if ws := a.Words; len(ws) == 2 && len(a.Modifiers) == 0 {
		if id, isIdent := ws[0].(*Ident); isIdent {
			name, value = id.Name, ws[1]
		}
	}
	if name == "" && i == 0 && value != nil {
		name = "initial"
	}
	return name, value
}

// constantArgs reads constant_backoff(5s): the one delay.
func (d *decoder) constantArgs(key string, r *Retry, c *Call) bool {
	what := key + ": constant_backoff"
	if len(c.Args) != 1 || c.Args[0].Single() == nil {
		d.rep.errorf(c.P, "%s: expected one delay, such as constant_backoff(5s)", what)
		return false
	}
	var ok bool
	r.Initial, ok = d.positiveDurationOf(what, c.Args[0].Single(), true)
	return ok
}

// positiveDurationOf reads a duration greater than zero; ok is and-ed with the result.
func (d *decoder) positiveDurationOf(what string, n Node, ok bool) (time.Duration, bool) {
	v, err := durationOf(n)
	if err == nil && v <= 0 {
		err = fmt.Errorf("expected a duration greater than zero, found %s", Text(n))
	}
	if err != nil {
		d.rep.errorf(n.Position(), "%s: %v", what, err)
		return 0, false
	}
	return v, ok
}

// factorOf reads a growth factor from 1 to 10.
func factorOf(n Node) (float64, bool) {
	num, isNum := n.(*Number)
	if !isNum {
		return 0, false
	}
	f, err := strconv.ParseFloat(num.Text, 64)
	return f, err == nil && f >= 1 && f <= 10
}

// backoffSettings are the settings that shape r's back-off, under the names a block
// writes them with: backoff, initial (or initial_interval), max, multiplier (or
// backoff_multiplier). set, when
// not nil, records which were written and where.
func (d *decoder) backoffSettings(r *Retry, set map[string]Pos, names ...string) map[string]setting {
	mark := func(e *Entry) {
		if set != nil {
			set[e.Key] = e.KeyPos
		}
	}
	all := map[string]setting{
		"backoff": func(e *Entry) { mark(e); d.backoff(e, r) },
		"initial": func(e *Entry) { mark(e); r.Initial, _ = d.positiveDuration(e) },
		"max":     func(e *Entry) { mark(e); r.Max, _ = d.positiveDuration(e) },
		"multiplier": func(e *Entry) {
			mark(e)
			if f := d.multiplier(e); f > 0 {
				r.Multiplier = f
			}
		},
	}
	all["initial_interval"] = all["initial"]
	all["backoff_multiplier"] = all["multiplier"]
	out := make(map[string]setting, len(names))
	for _, n := range names {
		out[n] = all[n]
	}
	return out
}

// backoff reads how the delay grows: exponential, constant, linear (also written
// exponential_backoff, …), or a growth factor, which is exponential.
func (d *decoder) backoff(e *Entry, r *Retry) {
	const expected = "exponential, constant, linear, or a growth factor from 1 to 10 (exponential)"
	n := d.single(e, expected)
	switch n := n.(type) {
	case nil:
		return
	case *Number:
		f, ok := factorOf(n)
		if !ok {
			d.rep.errorf(n.P, "%s: expected %s, found %s", e.Key, expected, n.Text)
			return
		}
		r.Backoff, r.Multiplier = BackoffExponential, f
		return
	case *Ident:
		switch BackoffKind(strings.TrimSuffix(n.Name, "_backoff")) {
		case BackoffExponential:
			r.Backoff = BackoffExponential
			return
		case BackoffConstant:
			r.Backoff = BackoffConstant
			return
		case BackoffLinear:
			r.Backoff = BackoffLinear
			return
		}
	}
	d.rep.errorf(n.Position(), "%s: expected %s, found %s", e.Key, expected, Text(n))
}

// checkBackoff applies the rules between a retry's settings.
func (d *decoder) checkBackoff(r *Retry, at Pos) {
	if r.Backoff != BackoffExponential && r.Multiplier > 0 {
		d.rep.warnf(at, "retry: a multiplier has no effect on a %s back-off", r.Backoff)
	}
	if r.Initial > 0 && r.Max > 0 && r.Max < r.Initial {
		d.rep.errorf(at, "retry: max %s is shorter than the first delay %s", r.Max, r.Initial)
	}
}

// checkSynonyms reports a block that writes one setting under both of its names.
func (d *decoder) checkSynonyms(what string, entries []*Entry, pairs [][2]string) {
	at := map[string]Pos{}
	for _, e := range entries {
		at[e.Key] = e.KeyPos
	}
	for _, p := range pairs {
		a, okA := at[p[0]]
		b, okB := at[p[1]]
		if okA && okB {
			d.rep.errorf(b, "%s: %s and %s are the same setting (first at line %d); give one", what, p[1], p[0], a.Line)
		}
	}
}

// retryGroup gathers the settings of a block that together write one retry: `retry`,
// `retry_delays`, and (in the colon-less webhook and the on_error block) back-off
// settings written beside them (`initial_interval "1s" backoff 2.0`).
type retryGroup struct {
	d         *decoder
	written   *Retry // the retry setting, if given and valid
	wrote     bool   // a retry setting was given, valid or not
	delays    []time.Duration
	delaysPos Pos
	beside    Retry // back-off settings beside retry
	besideAt  map[string]Pos
}

func (d *decoder) retryGroup() *retryGroup {
	return &retryGroup{d: d, besideAt: map[string]Pos{}}
}

// settings adds the group's keys to a block's settings: retry, retry_delays, and the
// back-off settings named in beside.
func (g *retryGroup) settings(into map[string]setting, beside ...string) map[string]setting {
	into["retry"] = func(e *Entry) { g.written, g.wrote = g.d.retry(e), true }
	into["retry_delays"] = func(e *Entry) { g.delays, g.delaysPos = g.d.durationList(e), e.KeyPos }
	for k, s := range g.d.backoffSettings(&g.beside, g.besideAt, beside...) {
		into[k] = s
	}
	return into
}

// retry is the retry the group's settings write together, or nil when none was given.
func (g *retryGroup) retry() *Retry {
	if g.written == nil && g.wrote {
		return nil // reported
	}
	r := g.written
	if r == nil && len(g.besideAt) > 0 {
		r = &Retry{Pos: firstPos(g.besideAt), Backoff: BackoffExponential}
	}
	if r != nil && g.written != nil {
		for key, at := range g.besideAt {
			if g.overlaps(key) {
				g.d.rep.errorf(at, "%s: already set by retry at line %d", key, r.Pos.Line)
			}
		}
	}
	if r != nil && len(g.besideAt) > 0 {
		r.Backoff = cmp.Or(g.beside.Backoff, r.Backoff)
		r.Initial = cmp.Or(g.beside.Initial, r.Initial)
		r.Max = cmp.Or(g.beside.Max, r.Max)
		r.Multiplier = cmp.Or(g.beside.Multiplier, r.Multiplier)
		g.d.checkBackoff(r, r.Pos)
	}
	if g.delays != nil {
		if r == nil {
			// retry_delays alone: one retry per listed delay.
			r = &Retry{Pos: g.delaysPos, Attempts: len(g.delays), Backoff: BackoffExponential}
		}
		r.Delays = g.delays
		if r.Attempts != len(g.delays) {
			g.d.rep.errorf(g.delaysPos, "retry_delays lists %d delays but retry allows %d retries: give one delay per retry", len(g.delays), r.Attempts)
		}
	}
	return r
}

// overlaps reports whether the retry setting itself already wrote what key sets.
func (g *retryGroup) overlaps(key string) bool {
	w := g.written
	switch key {
	case "initial", "initial_interval":
		return w.Initial > 0
	case "max":
		return w.Max > 0
	case "multiplier", "backoff_multiplier":
		return w.Multiplier > 0
	case "backoff":
		return w.Backoff != BackoffExponential || w.Multiplier > 0
	}
	return false
}

func firstPos(m map[string]Pos) Pos {
	var first Pos
	for _, p := range m {
		if first.Line == 0 || p.Line < first.Line || (p.Line == first.Line && p.Col < first.Col) {
			first = p
		}
	}
	return first
}

// errorPolicy reads a flow's `on_error: retry 3 times with exponential_backoff(1s, max
// 60s) then dead_letter("failed-orders")` (each part optional), or the block { retry,
// retry_delays, dead_letter } (also with initial, max and multiplier beside retry).
func (d *decoder) errorPolicy(e *Entry) *ErrorPolicy {
	p := &ErrorPolicy{Pos: e.KeyPos}
	if _, entries, isBlock := d.objectQuiet(e); isBlock {
		d.errorPolicyBlock(p, entries)
	} else {
		d.errorPolicyWords(p, e)
	}
	return p
}

// errorPolicyBlock reads the block form of on_error.
func (d *decoder) errorPolicyBlock(p *ErrorPolicy, entries []*Entry) {
	g := d.retryGroup()
	d.block("on_error", entries, g.settings(map[string]setting{
		"dead_letter": func(e *Entry) { p.DeadLetter, _ = d.str(e) },
	}, "initial", "max", "multiplier"))
	p.Retry = g.retry()
}

// errorPolicyWords reads the words form of on_error: retry …, then dead_letter("name").
func (d *decoder) errorPolicyWords(p *ErrorPolicy, e *Entry) {
	const form = `retry ` + retryForm + ` then dead_letter("name")`
	ws := d.words(e.Value).Words
	if len(ws) == 0 {
		d.expect(e, form)
		return
	}
	const deadLetter = `dead_letter("name")`
	rest, next := ws, `retry N times or `+deadLetter
	if isWord(ws[0], "retry") {
		if len(ws) == 1 {
			d.rep.errorf(ws[0].Position(), "%s: expected the number of retries after retry, such as retry 3 times, found nothing", e.Key)
			return
		}
		r, after, allowed, ok := d.retryWords(e.Key, e.KeyPos, ws[1:])
		if !ok {
			return
		}
		p.Retry, rest, next = r, after, "then "+deadLetter
		if allowed != "" {
			next = allowed + ", or then " + deadLetter
		}
	}
	if len(rest) > 0 && isWord(rest[0], "then") {
		if len(rest) == 1 {
			d.rep.errorf(rest[0].Position(), "%s: expected %s after then, found nothing", e.Key, deadLetter)
			return
		}
		rest, next = rest[1:], deadLetter
	}
	if len(rest) > 0 {
		if c, ok := rest[0].(*Call); ok && (c.Name == "dead_letter" || c.Name == "dead-letter") {
			name, isStr := singleString(c.Args)
			if !isStr {
				d.rep.errorf(c.P, "%s: expected %s with the queue's name as a string, found %s", e.Key, deadLetter, Text(c))
				return
			}
			p.DeadLetter, rest, next = name, rest[1:], "nothing more"
		}
	}
	if len(rest) > 0 {
		d.trailing(e.Key, ws, rest, next)
	}
}
