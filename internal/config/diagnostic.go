package config

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a diagnostic stops the configuration from loading.
type Severity int

// Severities, from least to most serious.
const (
	SeverityNote    Severity = iota // information only
	SeverityWarning                 // loads, but probably not what was meant (unset variable)
	SeverityError                   // does not load
)

func (s Severity) String() string {
	switch s {
	case SeverityNote:
		return "note"
	case SeverityWarning:
		return "warning"
	default:
		return "error"
	}
}

// Diagnostic is one message about a place in a configuration file.
type Diagnostic struct {
	Pos      Pos
	Severity Severity
	Message  string
}

// String renders the diagnostic as file:line:col: [severity: ]message. Errors carry no
// prefix, the way compilers print them.
func (d Diagnostic) String() string {
	if d.Severity == SeverityError {
		return fmt.Sprintf("%s: %s", d.Pos, d.Message)
	}
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Message)
}

// Diagnostics is the list of messages produced while loading configuration.
type Diagnostics []Diagnostic

// maxErrors bounds how many errors one file reports: past that, further messages are
// almost always consequences of the first ones.
const maxErrors = 50

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Filter returns the diagnostics of exactly the given severity.
func (ds Diagnostics) Filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// Sort orders diagnostics by file, line and column, keeping the order of equal positions.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// Err returns the errors as one error value (nil when there are none), so callers that
// only need to know whether loading worked can use ordinary error handling.
func (ds Diagnostics) Err() error {
	errs := ds.Filter(SeverityError)
	if len(errs) == 0 {
		return nil
	}
	return &LoadError{Diagnostics: errs}
}

// LoadError is the error returned when configuration does not load. It holds every error
// found, each with its position.
type LoadError struct {
	Diagnostics Diagnostics
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// reporter collects diagnostics for one file and stops recording errors past maxErrors.
type reporter struct {
	diags  Diagnostics
	errors int
	// errorLines holds the lines that already have an error: like Go's compiler, report
	// one error per line, since later ones on the same line are usually its echoes.
	// errorAtf's errors are keyed by their position instead.
	errorLines map[Pos]bool
	// held are errors about a workflow that count only if Junction runs it: what a
	// workflow of CodeAI's generated application refers to is that application's
	// business. Whether it runs is known once every file's integrations are
	// (setAsideGeneratedWorkflows), which releases or drops them.
	held map[*Workflow][]Diagnostic
}

// holdf keeps an error about w until release or drop.
func (r *reporter) holdf(w *Workflow, p Pos, format string, args ...any) {
	if r.held == nil {
		r.held = map[*Workflow][]Diagnostic{}
	}
	r.held[w] = append(r.held[w], Diagnostic{Pos: p, Severity: SeverityError, Message: fmt.Sprintf(format, args...)})
}

// release reports the errors held about w.
func (r *reporter) release(w *Workflow) {
	for _, d := range r.held[w] {
		r.errorf(d.Pos, "%s", d.Message)
	}
	delete(r.held, w)
}

// drop forgets the errors held about w.
func (r *reporter) drop(w *Workflow) { delete(r.held, w) }

func (r *reporter) errorf(p Pos, format string, args ...any) {
	r.record(Pos{File: p.File, Line: p.Line}, p, format, args...)
}

// errorAtf reports an error that is not an echo of another one on its line, such as an
// unknown type in `body: { n: integr, m: strin }` where each field has its own: only a
// second error at the same position is dropped.
func (r *reporter) errorAtf(p Pos, format string, args ...any) {
	r.record(p, p, format, args...)
}

// record reports an error at p unless one was reported under key already (a line, or a
// position); either way p's line then counts as having an error.
func (r *reporter) record(key, p Pos, format string, args ...any) {
	if r.errorLines[key] {
		return
	}
	if r.errorLines == nil {
		r.errorLines = map[Pos]bool{}
	}
	r.errorLines[key] = true
	r.errorLines[Pos{File: p.File, Line: p.Line}] = true
	r.errors++
	if r.errors > maxErrors {
		return
	}
	if r.errors == maxErrors {
		format, args = "too many errors; stopping here", nil
	}
	r.diags = append(r.diags, Diagnostic{Pos: p, Severity: SeverityError, Message: fmt.Sprintf(format, args...)})
}

func (r *reporter) warnf(p Pos, format string, args ...any) {
	r.diags = append(r.diags, Diagnostic{Pos: p, Severity: SeverityWarning, Message: fmt.Sprintf(format, args...)})
}
