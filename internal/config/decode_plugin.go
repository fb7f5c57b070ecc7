package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// pluginName is what plugin and function names may be: they are written in mapping
// expressions (plugin.NAME.FUNCTION(x)).
var pluginName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// plugin decodes `plugin NAME { path: "x.wasm" version: "1.0.0" functions: [f] … }`.
func (d *decoder) plugin(pos Pos, name string, body []*Entry) *Plugin {
	p := &Plugin{Pos: pos, Name: name}
	if !pluginName.MatchString(name) {
		d.rep.errorf(pos, "plugin %s: expected a name of letters, digits and _ (it is written in expressions: plugin.%s.function(x))", name, name)
	}
	strs := func(e *Entry, what string) []string {
		items, ok := d.list(e, what)
		if !ok {
			return nil
		}
		var out []string
		for _, it := range items {
			switch n := d.words(it).Single().(type) {
			case *String:
				out = append(out, n.Value)
			case *Ident:
				out = append(out, n.Name)
			default:
				d.rep.errorf(it.Pos, "%s: expected %s", e.Key, what)
			}
		}
		return out
	}
	d.block("plugin "+name, body, map[string]setting{
		"path": func(e *Entry) {
			if s, ok := d.str(e); ok {
				p.Path = s
				if !filepath.IsAbs(s) {
					p.Path = filepath.Join(filepath.Dir(pos.File), s)
				}
			}
		},
		"version":     func(e *Entry) { p.Version, _ = d.str(e) },
		"description": func(e *Entry) { p.Description, _ = d.str(e) },
		"author":      func(e *Entry) { p.Author, _ = d.str(e) },
		"license":     func(e *Entry) { p.License, _ = d.str(e) },
		"functions": func(e *Entry) {
			p.Functions = strs(e, "a list of function names such as [slugify, upper]")
			for _, f := range p.Functions {
				if !pluginName.MatchString(f) {
					d.rep.errorf(e.KeyPos, "plugin %s functions: %q: expected letters, digits and _", name, f)
				}
			}
		},
		"dependencies": func(e *Entry) {
			items, ok := d.list(e, `a list of { name: "base", version: ">=1.0" }`)
			if !ok {
				return
			}
			for _, it := range items {
				o, isObj := d.words(it).Single().(*Object)
				if !isObj {
					d.rep.errorf(it.Pos, `plugin %s dependencies: expected { name: "base", version: ">=1.0" }`, name)
					continue
				}
				var dep PluginDependency
				d.block("plugin "+name+" dependency", o.Entries, map[string]setting{
					"name":    func(e *Entry) { dep.Name, _ = d.name(e, "a plugin name") },
					"version": func(e *Entry) { dep.Version, _ = d.str(e) },
				})
				if dep.Name == "" {
					d.rep.errorf(it.Pos, "plugin %s dependencies: missing name", name)
					continue
				}
				p.Dependencies = append(p.Dependencies, dep)
			}
		},
		"capabilities": func(e *Entry) {
			_, entries, ok := d.object(e)
			if !ok {
				return
			}
			d.block("plugin "+name+" capabilities", entries, map[string]setting{
				"http": func(e *Entry) {
					_, entries, ok := d.object(e)
					if !ok {
						return
					}
					p.HTTPHosts = []string{}
					d.block("capabilities http", entries, map[string]setting{
						"allowed_hosts": func(e *Entry) { p.HTTPHosts = strs(e, `a list of hosts such as ["api.example.com"]`) },
					})
					if len(p.HTTPHosts) == 0 {
						d.rep.errorf(e.KeyPos, `plugin %s capabilities http: allowed_hosts names no host (such as allowed_hosts: ["api.example.com"])`, name)
					}
				},
				"env": func(e *Entry) { p.Env = strs(e, "a list of variable names such as [API_KEY]") },
			})
		},
		"limits": func(e *Entry) {
			_, entries, ok := d.object(e)
			if !ok {
				return
			}
			d.block("plugin "+name+" limits", entries, map[string]setting{
				"memory_mb": func(e *Entry) { p.MemoryMB, _ = d.integer(e, 1, 4096) },
				"timeout":   func(e *Entry) { p.Timeout, _ = d.positiveDuration(e) },
				"instances": func(e *Entry) { p.Instances, _ = d.integer(e, 1, 256) },
			})
		},
	})
	switch {
	case p.Path == "":
		d.rep.errorf(pos, `plugin %s: missing path (the module, such as path: "plugins/%s.wasm")`, name, name)
	case p.Version == "":
		d.rep.errorf(pos, `plugin %s: missing version (such as version: "1.0.0")`, name)
	case len(p.Functions) == 0:
		d.rep.errorf(pos, "plugin %s: missing functions (the functions the module provides, such as functions: [slugify])", name)
	}
	return p
}

// splitPluginRefOK splits "name.function" of a flow step; ok is false when it is not one.
func splitPluginRefOK(ref string, read bool) (plugin, function string, ok bool) {
	plugin, function, ok = strings.Cut(ref, ".")
	return plugin, function, read && ok && pluginName.MatchString(plugin) && pluginName.MatchString(function)
}

// validPluginRef reports whether ref is "name.function".
func validPluginRef(ref string) bool {
	_, _, ok := splitPluginRefOK(ref, true)
	return ok
}

// exprPluginCall finds plugin.NAME.FUNCTION( in mapping expressions and conditions.
var exprPluginCall = regexp.MustCompile(`\bplugin\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*\(`)

// PluginRefs lists every use of a plugin function in the configuration, in order.
func (c *Config) PluginRefs() []PluginRef {
	var refs []PluginRef
	exprs := func(at Pos, what string, v any) {
		walkStrings(v, func(s string) {
			for _, m := range exprPluginCall.FindAllStringSubmatch(s, -1) {
				refs = append(refs, PluginRef{Pos: at, What: what, Plugin: m[1], Function: m[2]})
			}
		})
	}
	for _, f := range c.Flows {
		for _, s := range f.Steps {
			what := fmt.Sprintf("flow %s step %s", f.Name, s.Name)
			if s.Kind == StepPlugin {
				refs = append(refs, PluginRef{Pos: s.Pos, What: what, Plugin: s.Plugin, Function: s.Function})
			}
			exprs(s.Pos, what, []any{s.Template, s.Params, s.Condition})
			for _, r := range s.Routes {
				exprs(r.Pos, what, r.When)
			}
		}
	}
	var steps func(w *Workflow, list []*WorkflowStep)
	steps = func(w *Workflow, list []*WorkflowStep) {
		for _, s := range list {
			if s == nil {
				continue
			}
			what := fmt.Sprintf("workflow %s step %s", w.Name, s.ID)
			if s.Kind == WorkflowPlugin {
				p, fn, _ := strings.Cut(s.Target, ".")
				refs = append(refs, PluginRef{Pos: s.TargetPos, What: what, Plugin: p, Function: fn})
			}
			exprs(s.Pos, what, []any{s.Input, s.Output, s.Match, s.Condition})
			steps(w, s.Branches)
			if s.Compensation != nil {
				steps(w, []*WorkflowStep{s.Compensation})
			}
		}
	}
	for _, w := range c.Workflows {
		steps(w, w.Steps)
		exprs(w.OutputPos, "workflow "+w.Name+" output", w.Output)
	}
	for _, h := range c.Handlers {
		if h.Action == "plugin" {
			p, fn, _ := strings.Cut(h.Target, ".")
			refs = append(refs, PluginRef{Pos: h.TargetPos, What: fmt.Sprintf("on %q do plugin", h.Event), Plugin: p, Function: fn})
		}
	}
	return refs
}

func walkStrings(v any, fn func(string)) {
	switch v := v.(type) {
	case string:
		fn(v)
	case []any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	case map[string]any:
		for _, x := range v {
			walkStrings(x, fn)
		}
	}
}

// checkPluginReferences reports uses of plugins the configuration declares with a
// function they do not list (an error), and warns about plugins it does not declare:
// those must be registered through the API before the uses run.
func checkPluginReferences(cfg *Config, rep *reporter) {
	checkUnique(rep, "plugin", cfg.Plugins, func(p *Plugin) (string, Pos) { return p.Name, p.Pos })
	undeclared := map[string]bool{}
	for _, r := range cfg.PluginRefs() {
		p := cfg.Plugin(r.Plugin)
		if p == nil {
			if !undeclared[r.Plugin] {
				undeclared[r.Plugin] = true
				var names []string
				for _, x := range cfg.Plugins {
					names = append(names, x.Name)
				}
				rep.warnf(r.Pos, "%s: plugin %q is not declared in the configuration%s: it must be registered (junction plugin register) before this runs, or its calls fail", r.What, r.Plugin, didYouMean(r.Plugin, names))
			}
			continue
		}
		if !slices.Contains(p.Functions, r.Function) {
			rep.errorf(r.Pos, "%s: plugin %s has no function %q (its functions: %s)%s", r.What, r.Plugin, r.Function, strings.Join(p.Functions, ", "), didYouMean(r.Function, p.Functions))
		}
	}
}
