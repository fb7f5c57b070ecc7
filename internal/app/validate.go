package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/connector/registry"
	"github.com/junctionhq/junction/internal/flow"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/runtime"
	"github.com/junctionhq/junction/internal/webhook"
	"github.com/junctionhq/junction/internal/workflow"
)

// Validate checks configuration files the way `junction validate` reports them: every
// diagnostic as file:line:col, a warning for each environment reference that would leave
// an integration misconfigured, every declared connector against its type's options (used
// by a flow or not), each flow's steps and connectors, and a summary line. It returns
// false when any file has an error.
//
// Several files are one configuration, as serve loads them: each file is checked on its
// own for what it says by itself, and the references between declarations (a handler's
// workflow, a flow's connectors) are checked on the whole set, so a handler may name a
// workflow declared in another file. ValidateEach checks files independently.
//
// A file with errors still has its flows' steps and its workflows compiled, so that an
// expression's mistake shows in the same run as the others.
func Validate(w io.Writer, paths []string, lookup config.LookupEnv) bool {
	if len(paths) == 1 {
		f := validateFile(w, paths[0], lookup, config.Decode)
		if !f.decoded {
			checkOwnParts(w, paths[0], f)
			return false
		}
		ok := validateFlows(w, paths[0], f.cfg, lookup, f.printed) && f.ok
		if ok {
			fmt.Fprintf(w, "%s: ok: %s\n", paths[0], f.cfg.Summary())
		}
		return ok
	}
	files := make([]checkedFile, len(paths))
	ok := true
	for i, path := range paths {
		files[i] = validateFile(w, path, lookup, config.DecodePart)
		if files[i].ok {
			fmt.Fprintf(w, "%s: ok by itself: %s\n", path, files[i].cfg.Summary())
		}
		ok = ok && files[i].ok
	}
	together := strings.Join(paths, ", ") + " (as one configuration)"
	if !ok {
		for i, path := range paths {
			checkOwnParts(w, path, files[i])
		}
		fmt.Fprintf(w, "%s: not checked together until each file is ok\n", together)
		return false
	}
	cfgs := make([]*config.Config, len(files))
	for i, f := range files {
		cfgs[i] = f.cfg
	}
	merged, diags := config.Merge(cfgs...)
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
	}
	if errs := len(diags.Filter(config.SeverityError)); errs > 0 {
		fmt.Fprintf(w, "%s: %d error%s\n", together, errs, plural(errs))
		return false
	}
	if !validateFlows(w, together, merged, lookup, nil) {
		return false
	}
	fmt.Fprintf(w, "%s: ok: %s\n", together, merged.Summary())
	return true
}

// ValidateEach checks each file as a configuration of its own, as if it were the only
// one given. It returns false when any of them has an error.
func ValidateEach(w io.Writer, paths []string, lookup config.LookupEnv) bool {
	ok := true
	for _, path := range paths {
		ok = Validate(w, []string{path}, lookup) && ok
	}
	return ok
}

// checkedFile is what validateFile found in one file.
type checkedFile struct {
	cfg     *config.Config
	decoded bool            // the file decoded (its connectors may still have errors)
	ok      bool            // and no diagnostic is an error
	printed map[string]bool // the diagnostics printed, so flow errors do not repeat them
}

// validateFile prints the problems of one file, with a count line when it has errors.
// decode is config.Decode for a file that is the whole configuration, config.DecodePart
// for one of several.
func validateFile(w io.Writer, path string, lookup config.LookupEnv, decode func(string, []byte) (*config.Config, config.Diagnostics)) checkedFile {
	src, err := config.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return checkedFile{}
	}
	cfg, diags := decode(path, src)
	for _, p := range cfg.EnvProblems(lookup) {
		diags = append(diags, config.Diagnostic{
			Pos:      p.Pos,
			Severity: config.SeverityWarning,
			Message:  fmt.Sprintf("%s %s: %v (serve starts it as misconfigured)", p.Owner, p.Setting, p.Err),
		})
	}
	f := checkedFile{cfg: cfg, decoded: !diags.HasErrors(), printed: map[string]bool{}}
	if f.decoded {
		// Every declared connector against its type's spec, used by a flow or not.
		diags = append(diags, connectorDiagnostics(registry.Validate(cfg.Connectors, lookup))...)
		// Operations' Avro schemas and descriptor sets, as the runtime builds them.
		diags = append(diags, connectorDiagnostics(integration.CheckFormats(cfg.Integrations, lookup))...)
		// Declared webhooks as serve resolves them (event types, urls, headers).
		if _, err := webhook.Declare(cfg, webhook.SettingsFrom(cfg), lookup); err != nil {
			errs := []error{err}
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				errs = joined.Unwrap()
			}
			diags = append(diags, connectorDiagnostics(errs)...)
		}
	}
	diags.Sort()
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
		f.printed[d.String()] = true
	}
	errs := len(diags.Filter(config.SeverityError))
	if errs > 0 {
		fmt.Fprintf(w, "%s: %d error%s\n", path, errs, plural(errs))
	}
	f.ok = errs == 0
	return f
}

// validateFlows compiles the flows and workflows of a configuration without errors the
// way serve does: expressions, paths and schemas (files included) up front, and each
// connector for the part it plays. Lines already printed (a connector's own problem) are
// not repeated.
func validateFlows(w io.Writer, what string, cfg *config.Config, lookup config.LookupEnv, printed map[string]bool) bool {
	ok := true
	_, err := flow.New(cfg, flowOptions(lookup, slog.New(slog.DiscardHandler), nil, nil, nil))
	if printNew(w, err, printed) {
		fmt.Fprintf(w, "%s: flows have errors\n", what)
		ok = false
	}
	if printNew(w, workflow.Check(cfg), printed) {
		fmt.Fprintf(w, "%s: workflows have errors\n", what)
		ok = false
	}
	if printNew(w, runtime.CheckPlugins(cfg), printed) {
		fmt.Fprintf(w, "%s: plugins have errors\n", what)
		ok = false
	}
	return ok
}

// checkOwnParts compiles what a file with errors holds whole by itself, its flows' steps
// and its workflows, and prints the errors not printed already. Connectors and the
// references between declarations wait until the file decodes.
func checkOwnParts(w io.Writer, path string, f checkedFile) {
	if f.cfg == nil {
		return
	}
	if printNew(w, flow.CheckSteps(f.cfg), f.printed) {
		fmt.Fprintf(w, "%s: flow steps have errors\n", path)
	}
	if printNew(w, workflow.Check(f.cfg), f.printed) {
		fmt.Fprintf(w, "%s: workflows have errors\n", path)
	}
}

// printNew prints the lines of err not printed before, and records them in printed when
// it is not nil. It reports whether it printed any.
func printNew(w io.Writer, err error, printed map[string]bool) bool {
	if err == nil {
		return false
	}
	printedAny := false
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if !printed[line] {
			fmt.Fprintln(w, line)
			printedAny = true
			if printed != nil {
				printed[line] = true
			}
		}
	}
	return printedAny
}

// connectorDiagnostics turns the problems registry.Validate (or webhook.Declare) found
// into diagnostics.
func connectorDiagnostics(errs []error) config.Diagnostics {
	var out config.Diagnostics
	for _, err := range errs {
		d := config.Diagnostic{Severity: config.SeverityError, Message: err.Error()}
		if oe, ok := errors.AsType[*config.OptionError](err); ok {
			d.Pos, d.Message = oe.Pos, oe.Msg
		}
		out = append(out, d)
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
