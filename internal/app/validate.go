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
	"github.com/junctionhq/junction/internal/webhook"
)

// Validate checks configuration files the way `junction validate` reports them: every
// diagnostic as file:line:col, a warning for each environment reference that would leave
// an integration misconfigured, every declared connector against its type's options (used
// by a flow or not), each flow's steps and connectors, and one summary line per file. It
// returns false when any file has an error.
func Validate(w io.Writer, paths []string, lookup config.LookupEnv) bool {
	ok := true
	var cfgs []*config.Config
	for _, path := range paths {
		cfg := validateFile(w, path, lookup)
		if cfg == nil {
			ok = false
			continue
		}
		fmt.Fprintf(w, "%s: ok: %s\n", path, cfg.Summary())
		cfgs = append(cfgs, cfg)
	}
	if len(cfgs) > 1 {
		_, diags := config.Merge(cfgs...)
		for _, d := range diags {
			fmt.Fprintln(w, d.String())
		}
		if diags.HasErrors() {
			ok = false
		}
	}
	return ok
}

// validateFile prints the problems of one file, and returns its configuration when it
// has no errors (nil otherwise, after a summary line).
func validateFile(w io.Writer, path string, lookup config.LookupEnv) *config.Config {
	src, err := config.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return nil
	}
	cfg, diags := config.Decode(path, src)
	for _, p := range cfg.EnvProblems(lookup) {
		diags = append(diags, config.Diagnostic{
			Pos:      p.Pos,
			Severity: config.SeverityWarning,
			Message:  fmt.Sprintf("%s %s: %v (serve starts it as misconfigured)", p.Owner, p.Setting, p.Err),
		})
	}
	decoded := !diags.HasErrors()
	if decoded {
		// Every declared connector against its type's spec, used by a flow or not.
		diags = append(diags, connectorDiagnostics(registry.Validate(cfg.Connectors, lookup))...)
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
	printed := map[string]bool{}
	for _, d := range diags {
		fmt.Fprintln(w, d.String())
		printed[d.String()] = true
	}
	flowErrors := false
	if decoded {
		// Flows compile their expressions, paths and schemas (files included) up front,
		// and build their connectors for the part each plays.
		if _, err := flow.New(cfg, flowOptions(lookup, slog.New(slog.DiscardHandler), nil, nil, nil)); err != nil {
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !printed[line] { // not a connector's own problem, reported above
					fmt.Fprintln(w, line)
					flowErrors = true
				}
			}
		}
	}
	errs := len(diags.Filter(config.SeverityError))
	if errs > 0 {
		fmt.Fprintf(w, "%s: %d error%s\n", path, errs, plural(errs))
	}
	if flowErrors {
		fmt.Fprintf(w, "%s: flows have errors\n", path)
	}
	if errs > 0 || flowErrors {
		return nil
	}
	return cfg
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
