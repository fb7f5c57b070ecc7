package config

import (
	"fmt"
	"slices"
	"strings"
)

// topLevel lists what a file may declare, for "expected one of" messages.
var topLevel = []string{"integration", "event", "webhook", "source", "connector", "flow", "job", "workflow", "plugin", "on"}

// declarations decode the top-level blocks `KEYWORD NAME { … }` into cfg.
var declarations = map[string]func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry){
	"integration": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		in, wd := d.integration(pos, name, body)
		if wd != nil {
			cfg.setWebhookDelivery(wd, d.rep)
		}
		if wd == nil || len(in.Operations) > 0 {
			cfg.Integrations = append(cfg.Integrations, in)
		}
	},
	"event": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		ev, trigger := d.event(pos, name, body)
		cfg.Events = append(cfg.Events, ev)
		if trigger != nil {
			cfg.Ignored = append(cfg.Ignored, *trigger)
		}
	},
	"webhook": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		cfg.Webhooks = append(cfg.Webhooks, d.webhook(pos, name, body))
	},
	"source": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		cfg.Sources = append(cfg.Sources, d.source(pos, name, body))
	},
	"connector": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		cfg.Connectors = append(cfg.Connectors, d.connector(pos, name, body))
	},
	"flow": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		cfg.Flows = append(cfg.Flows, d.flow(pos, name, body))
	},
	"job": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		if j, ig := d.job(pos, name, body); ig != nil {
			cfg.Ignored = append(cfg.Ignored, *ig)
		} else {
			cfg.Jobs = append(cfg.Jobs, j)
		}
	},
	"plugin": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		cfg.Plugins = append(cfg.Plugins, d.plugin(pos, name, body))
	},
	"workflow": func(d *decoder, cfg *Config, pos Pos, name string, body []*Entry) {
		if w, ig := d.workflow(pos, name, body); ig != nil {
			cfg.Ignored = append(cfg.Ignored, *ig)
		} else {
			cfg.Workflows = append(cfg.Workflows, w)
			addWorkflowTriggers(cfg, w)
		}
	},
}

// decodeFile adds the declarations of one file to cfg.
func (d *decoder) decodeFile(f *File, cfg *Config) {
	for _, e := range f.Entries {
		declare, isDeclaration := declarations[e.Key]
		switch {
		case isDeclaration:
			if name, body, ok := d.declaredBlock(e); ok {
				d.annotationsHaveNoEffect(e, e.Key+" "+name)
				declare(d, cfg, e.KeyPos, name, body)
			}
		case e.Key == "on":
			d.annotationsHaveNoEffect(e, "on")
			if h := d.handler(e); h != nil {
				cfg.Handlers = append(cfg.Handlers, h)
			}
		default:
			d.otherTopLevel(e, cfg)
		}
	}
}

// otherTopLevel deals with a top-level entry that is not a declaration Junction runs:
// a block of CodeAI's code generation, one Junction does not run yet, or an unknown block
// is kept in cfg.Ignored (reported once per kind by reportNotRun); anything else is an
// error.
func (d *decoder) otherTopLevel(e *Entry, cfg *Config) {
	isBlock := false
	if lw := lastWord(e.Value); lw != nil {
		_, isBlock = lw.(*Object)
	}
	label := ""
	if e.Value != nil && len(e.Value.Words) > 1 {
		label = wordsText(e.Value.Words[:len(e.Value.Words)-1])
	}
	ignore := func(reason string) {
		var annotations []string
		for _, a := range e.Annotations {
			annotations = append(annotations, a.Text())
		}
		cfg.Ignored = append(cfg.Ignored, Ignored{Pos: e.KeyPos, Kind: e.Key, Name: label, Reason: reason, Annotations: annotations})
	}
	if e.Key == "auth" && isBlock && !e.Colon && isAuthProvider(e.Value) {
		ignore(codeGeneration["auth"].reason)
		return
	}
	if c, ok := codeGeneration[e.Key]; ok && isBlock && e.Key != "auth" && e.Key != "trigger" {
		ignore(c.reason)
		return
	}
	if NotRunYet(e.Key) && isBlock {
		ignore("declared but not run yet by this version")
		return
	}
	if _, ok := integrationSettingNames[e.Key]; ok {
		d.rep.errorf(e.KeyPos, "%s is a setting of an integration: put it inside integration NAME { … }", e.Key)
		return
	}
	if s := suggest(e.Key, topLevelCandidates()); s != "" {
		d.rep.errorf(e.KeyPos, "unknown block %q; did you mean %q?", e.Key, s)
		return
	}
	if isBlock {
		ignore(fmt.Sprintf("not a block Junction knows (expected %s)", strings.Join(topLevel, ", ")))
		return
	}
	d.rep.errorf(e.KeyPos, "unexpected %q at top level: expected a declaration (%s)", e.Key, strings.Join(topLevel, ", "))
}

// topLevelCandidates are the top-level keywords a typo may have meant.
func topLevelCandidates() []string {
	out := slices.Clone(topLevel)
	for k := range codeGeneration {
		if k != "trigger" && !strings.Contains(k, " ") {
			out = append(out, k)
		}
	}
	for k := range notRunYet {
		if !strings.Contains(k, " ") && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// isAuthProvider reports whether `auth …{ … }` at top level is an auth provider of
// CodeAI's generated APIs (`auth jwt_provider { method jwt … }`, `auth jwt_auth jwt { … }`)
// rather than an integration's auth written outside its integration (`auth bearer {
// token … }`), which stays an error.
func isAuthProvider(ph *Phrase) bool {
	ws := ph.Words
	if len(ph.Modifiers) > 0 || len(ws) < 2 {
		return false
	}
	for _, w := range ws[:len(ws)-1] {
		if _, ok := w.(*Ident); !ok {
			return false
		}
	}
	body := ws[len(ws)-1].(*Object)
	if slices.ContainsFunc(body.Entries, func(e *Entry) bool { return e.Key == "method" }) || len(ws) > 2 {
		return true
	}
	switch normalizeAuthKind(ws[0].(*Ident).Name) {
	case AuthBearer, AuthAPIKey, AuthBasic, AuthOAuth2, AuthAWSSigV4, AuthHMAC:
		return false
	}
	return true
}

// annotationsHaveNoEffect warns about each annotation on an entry Junction runs:
// Junction reads no annotation, and says so rather than drop it.
func (d *decoder) annotationsHaveNoEffect(e *Entry, what string) {
	for _, a := range e.Annotations {
		d.rep.warnf(a.P, "annotation %s on %s has no effect: Junction reads no annotations (they mark CodeAI's generated endpoints)", a.Text(), what)
	}
}

// namedBlock reads `KEYWORD NAME { … }`.
func (d *decoder) namedBlock(e *Entry) (string, []*Entry, bool) {
	ws := e.Value.Words
	if e.Colon || len(ws) != 2 || len(e.Value.Modifiers) > 0 {
		d.rep.errorf(e.KeyPos, "expected %s NAME { … }, found %s %s", e.Key, e.Key, truncate(phraseText(e.Value), 40))
		return "", nil, false
	}
	id, okName := ws[0].(*Ident)
	body, okBody := ws[1].(*Object)
	// Event names may be dotted (user.created), as the event types they declare are.
	if !okName || (strings.Contains(id.Name, ".") && e.Key != "event") {
		chars := "letters, digits, _ and -"
		if e.Key == "event" {
			chars = "letters, digits, _, - and ."
		}
		d.rep.errorf(ws[0].Position(), "%s name: expected a name of %s, found %s", e.Key, chars, Text(ws[0]))
		return "", nil, false
	}
	if !okBody {
		d.rep.errorf(ws[1].Position(), "expected { after %s %s, found %s", e.Key, id.Name, Text(ws[1]))
		return "", nil, false
	}
	return id.Name, body.Entries, true
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkUnique reports declarations that share a name.
func checkUnique[T any](rep *reporter, kind string, items []T, name func(T) (string, Pos)) {
	seen := map[string]Pos{}
	for _, it := range items {
		n, p := name(it)
		if first, dup := seen[n]; dup {
			rep.errorf(p, "%s %s is declared twice (first at %s)", kind, n, first)
			continue
		}
		seen[n] = p
	}
}

// setWebhookDelivery records the delivery settings of a `type: webhook` block. They
// apply to every endpoint, so with a second block it would be unclear which apply: each
// extra one is an error at its position that names the first.
func (c *Config) setWebhookDelivery(wd *WebhookDelivery, rep *reporter) {
	if first := c.WebhookDelivery; first != nil {
		rep.errorf(wd.Pos, "integration %s: only one integration may be type webhook (it holds the delivery settings of all endpoints); %s at %s already is", wd.Name, first.Name, first.Pos)
		return
	}
	c.WebhookDelivery = wd
}

// checkConfig runs the checks that need the whole configuration.
func checkConfig(cfg *Config, rep *reporter) {
	checkNames(cfg, rep)
	setAsideGeneratedWorkflows(cfg, rep)
	checkFlowReferences(cfg, rep)
	checkSocketFeeds(cfg, rep)
	checkEventReferences(cfg, rep)
	checkJobReferences(cfg, rep)
	checkWorkflowReferences(cfg, rep)
	checkWorkflowSinks(cfg, rep)
	checkTracingEndpoints(cfg, rep)
	checkPluginReferences(cfg, rep)
}

// checkNames reports declarations of one kind that share a name.
func checkNames(cfg *Config, rep *reporter) {
	// The webhook block shares the integrations' names even when it is not callable.
	integrations := cfg.Integrations
	if wd := cfg.WebhookDelivery; wd != nil && !slices.ContainsFunc(integrations, func(in *Integration) bool { return in.Pos == wd.Pos }) {
		// In declaration order, so that "declared twice" names the later one.
		at := len(integrations)
		for i, in := range integrations {
			if in.Pos.File == wd.Pos.File && (in.Pos.Line > wd.Pos.Line || in.Pos.Line == wd.Pos.Line && in.Pos.Col > wd.Pos.Col) {
				at = i
				break
			}
		}
		integrations = slices.Insert(slices.Clone(integrations), at, &Integration{Pos: wd.Pos, Name: wd.Name})
	}
	checkUnique(rep, "integration", integrations, func(in *Integration) (string, Pos) { return in.Name, in.Pos })
	checkUnique(rep, "event", cfg.Events, func(ev *EventType) (string, Pos) { return ev.Name, ev.Pos })
	checkUnique(rep, "webhook", cfg.Webhooks, func(w *Webhook) (string, Pos) { return w.Name, w.Pos })
	checkUnique(rep, "source", cfg.Sources, func(s *Source) (string, Pos) { return s.Name, s.Pos })
	checkUnique(rep, "connector", cfg.Connectors, func(c *Connector) (string, Pos) { return c.Name, c.Pos })
	checkUnique(rep, "flow", cfg.Flows, func(f *Flow) (string, Pos) { return f.Name, f.Pos })
	checkUnique(rep, "workflow", cfg.Workflows, func(w *Workflow) (string, Pos) { return w.Name, w.Pos })
}

// describeCount renders "7 integrations", "1 integration".
func describeCount(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// checkFlowReferences reports flows that name connectors or operations that do not
// exist in the whole configuration.
func checkFlowReferences(cfg *Config, rep *reporter) {
	for _, f := range cfg.Flows {
		if f.Source.Connector != "" && cfg.Connector(f.Source.Connector) == nil {
			rep.errorf(f.Source.Pos, "flow %s: source connector %q is not declared (connector %s { type: … })", f.Name, f.Source.Connector, f.Source.Connector)
		}
		for _, s := range f.Sinks {
			if s.Connector != "" && cfg.Connector(s.Connector) == nil {
				rep.errorf(s.Pos, "flow %s: sink %s uses connector %q, which is not declared", f.Name, s.Name, s.Connector)
			}
		}
		for _, st := range f.Steps {
			if st.Kind != StepEnrich {
				continue
			}
			if in := cfg.Integration(st.Integration); in == nil || in.Operation(st.Operation) == nil {
				rep.errorf(st.Pos, "flow %s: step %s enriches with %s.%s, which is not a declared operation", f.Name, st.Name, st.Integration, st.Operation)
			}
		}
	}
}
