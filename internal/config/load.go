package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Format is a configuration file format.
type Format string

// The formats Junction reads.
const (
	FormatLanguage Format = "language" // .cai, .codeai
	FormatYAML     Format = "yaml"     // .yaml, .yml
	FormatJSON     Format = "json"     // .json
)

// FormatOf chooses the format from a file name's extension, and reports false for an
// extension Junction does not read: a .txt or .sql file given by mistake is refused
// by name rather than read as the language and reported as a syntax error.
func FormatOf(name string) (Format, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".cai", ".codeai":
		return FormatLanguage, true
	case ".yaml", ".yml":
		return FormatYAML, true
	case ".json":
		return FormatJSON, true
	}
	return "", false
}

// unsupportedType says why a file's extension is refused.
func unsupportedType(name string) string {
	what := "(no extension)"
	if ext := filepath.Ext(name); ext != "" {
		what = fmt.Sprintf("%q", ext)
	}
	return "unsupported file type " + what + ": expected .cai, .yaml, .yml or .json"
}

// maxFileSize bounds what Junction reads as configuration.
const maxFileSize = 16 << 20

// Decode reads one file's content, in the format its name says, into a model. The
// diagnostics hold every error, warning and note, in file order.
func Decode(name string, src []byte) (*Config, Diagnostics) {
	rep := &reporter{}
	cfg := decodeInto(name, src, rep)
	checkConfig(cfg, rep)
	reportNotRun(cfg, rep)
	rep.diags.Sort()
	return cfg, rep.diags
}

// DecodePart reads one file of a configuration made of several. It reports what the
// file says by itself (syntax, settings, names declared twice in it); the references
// between declarations, which may point into another file, are checked by Merge.
func DecodePart(name string, src []byte) (*Config, Diagnostics) {
	rep := &reporter{}
	cfg := decodeInto(name, src, rep)
	checkNames(cfg, rep)
	reportPartWorkflows(cfg, rep)
	reportNotRun(cfg, rep)
	rep.diags.Sort()
	return cfg, rep.diags
}

func decodeInto(name string, src []byte, rep *reporter) *Config {
	cfg := &Config{}
	if len(src) > maxFileSize {
		rep.errorf(Pos{File: name, Line: 1, Col: 1}, "file is larger than %d MiB", maxFileSize>>20)
		return cfg
	}
	format, ok := FormatOf(name)
	if !ok {
		rep.errorf(Pos{File: name}, "%s", unsupportedType(name))
		return cfg
	}
	var f *File
	switch format {
	case FormatLanguage:
		f = parse(name, string(src), rep)
	case FormatJSON:
		// YAML accepts more than JSON (unquoted strings, comments); a .json file must be
		// JSON, so check it strictly before reading it through the YAML adapter.
		if err := checkJSON(name, src); err != nil {
			rep.errorf(err.pos, "%s", err.msg)
			return cfg
		}
		f = parseYAML(name, src, rep)
	default:
		f = parseYAML(name, src, rep)
	}
	(&decoder{rep: rep}).decodeFile(f, cfg)
	return cfg
}

type jsonError struct {
	pos Pos
	msg string
}

func checkJSON(name string, src []byte) *jsonError {
	var v any
	err := json.Unmarshal(src, &v)
	if err == nil {
		return nil
	}
	offset := int64(len(src))
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		offset = syn.Offset
	}
	line, col := 1, 1
	for _, r := range string(src[:min(int(offset), len(src))]) {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &jsonError{pos: Pos{File: name, Line: line, Col: col}, msg: "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// Load reads configuration files and merges them into one model, checking that names are
// unique across files.
func Load(paths ...string) (*Config, Diagnostics) {
	rep := &reporter{}
	merged := &Config{}
	for _, p := range paths {
		src, err := ReadFile(p)
		if err != nil {
			rep.errorf(Pos{File: p}, "%v", err)
			continue
		}
		merged.add(decodeInto(p, src, rep), rep)
	}
	checkConfig(merged, rep)
	reportNotRun(merged, rep)
	rep.diags.Sort()
	return merged, rep.diags
}

// Merge combines separately decoded configurations and reports the names declared in
// more than one of them and the references between them that do not resolve. What is
// not run was reported when each was decoded, so Merge does not repeat it; it reports
// the workflows it finds to be CodeAI's, which only the whole configuration tells.
func Merge(cfgs ...*Config) (*Config, Diagnostics) {
	rep := &reporter{}
	merged := &Config{}
	for _, c := range cfgs {
		merged.add(c, rep)
	}
	before := len(merged.Ignored)
	checkConfig(merged, rep)
	reportNotRun(&Config{Ignored: merged.Ignored[before:]}, rep)
	rep.diags.Sort()
	return merged, rep.diags
}

// ReadFile reads a configuration file, refusing directories and oversized files.
func ReadFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read configuration: %w", err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("cannot read configuration: %s is a directory", path)
	}
	if info.Size() > maxFileSize {
		return nil, fmt.Errorf("cannot read configuration: %s is larger than %d MiB", path, maxFileSize>>20)
	}
	return os.ReadFile(path)
}

// add appends another configuration's declarations.
func (c *Config) add(o *Config, rep *reporter) {
	if o.WebhookDelivery != nil {
		c.setWebhookDelivery(o.WebhookDelivery, rep)
	}
	c.Integrations = append(c.Integrations, o.Integrations...)
	c.Events = append(c.Events, o.Events...)
	c.Webhooks = append(c.Webhooks, o.Webhooks...)
	c.Handlers = append(c.Handlers, o.Handlers...)
	c.Sources = append(c.Sources, o.Sources...)
	c.Connectors = append(c.Connectors, o.Connectors...)
	c.Flows = append(c.Flows, o.Flows...)
	c.Jobs = append(c.Jobs, o.Jobs...)
	c.Workflows = append(c.Workflows, o.Workflows...)
	c.Plugins = append(c.Plugins, o.Plugins...)
	c.Ignored = append(c.Ignored, o.Ignored...)
}

// DecodeSettings decodes a fragment made of integration settings written at top level,
// the way documentation shows them (`circuit_breaker: { … }`, `retry: 3 times`). Each
// entry is decoded on its own into an anonymous integration, so alternatives shown side
// by side (`fallback: cache` and `fallback: default(…)`) do not clash. Declarations
// (integration, event, …) are decoded as usual.
func DecodeSettings(name string, src []byte) ([]*Integration, *Config, Diagnostics) {
	rep := &reporter{}
	d := &decoder{rep: rep, fragment: true}
	f := parse(name, string(src), rep)
	cfg := &Config{}
	var settings []*Integration
	for _, e := range f.Entries {
		if integrationSettingNames[e.Key] {
			in, _ := d.integration(e.KeyPos, "fragment", []*Entry{e})
			settings = append(settings, in)
			continue
		}
		d.decodeFile(&File{Name: name, Entries: []*Entry{e}}, cfg)
	}
	checkConfig(cfg, rep)
	reportNotRun(cfg, rep)
	rep.diags.Sort()
	return settings, cfg, rep.diags
}

// String renders a summary for `junction validate`: "7 integrations, 23 operations, 3
// events, 0 webhooks, 0 handlers, 0 sources, 0 connectors, 0 flows, 15 blocks not run;
// webhook delivery settings from WebhookDeliveryService". Jobs and workflows are
// counted only when there are some ("…, 0 flows, 2 jobs, 3 workflows, …"): the line is
// long enough.
func (s Summary) String() string {
	parts := []string{
		describeCount(s.Integrations, "integration"),
		describeCount(s.Operations, "operation"),
		describeCount(s.Events, "event"),
		describeCount(s.Webhooks, "webhook"),
		describeCount(s.Handlers, "handler"),
		describeCount(s.Sources, "source"),
		describeCount(s.Connectors, "connector"),
		describeCount(s.Flows, "flow"),
	}
	if s.Jobs > 0 {
		parts = append(parts, describeCount(s.Jobs, "job"))
	}
	if s.Workflows > 0 {
		parts = append(parts, describeCount(s.Workflows, "workflow"))
	}
	if s.Plugins > 0 {
		parts = append(parts, describeCount(s.Plugins, "plugin"))
	}
	counts := strings.Join(append(parts, describeCount(s.Ignored, "block")+" not run"), ", ")
	if s.WebhookDelivery != "" {
		counts += "; webhook delivery settings from " + s.WebhookDelivery
	}
	return counts
}
