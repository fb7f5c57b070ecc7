package app

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/flow"
)

// Validate checks configuration files the way `junction validate` reports them: every
// diagnostic as file:line:col, a warning for each environment reference that would leave
// an integration misconfigured, and one summary line per file. It returns false when any
// file has an error.
func Validate(w io.Writer, paths []string, lookup config.LookupEnv) bool {
	ok := true
	var cfgs []*config.Config
	for _, path := range paths {
		src, err := config.ReadFile(path)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", path, err)
			ok = false
			continue
		}
		cfg, diags := config.Decode(path, src)
		for _, p := range cfg.EnvProblems(lookup) {
			diags = append(diags, config.Diagnostic{
				Pos:      p.Pos,
				Severity: config.SeverityWarning,
				Message:  fmt.Sprintf("%s %s: %v (serve starts it as misconfigured)", p.Owner, p.Setting, p.Err),
			})
		}
		diags.Sort()
		for _, d := range diags {
			fmt.Fprintln(w, d.String())
		}
		if errs := len(diags.Filter(config.SeverityError)); errs > 0 {
			fmt.Fprintf(w, "%s: %d error%s\n", path, errs, plural(errs))
			ok = false
			continue
		}
		// Flows compile their expressions, paths and schemas (files included) up front.
		if _, err := flow.New(cfg, flowOptions(lookup, slog.New(slog.DiscardHandler), nil, nil, nil)); err != nil {
			fmt.Fprintln(w, err)
			fmt.Fprintf(w, "%s: flows have errors\n", path)
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

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
