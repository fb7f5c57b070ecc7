package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPluginDialects: a plugin and its uses (a flow step, a workflow step, a handler
// action, a mapping expression) written in the colon dialect, the colon-less one and
// YAML decode to the same model.
func TestPluginDialects(t *testing.T) {
	colon := `plugin text {
    path: "plugins/text.wasm"
    version: "1.2.0"
    description: "Text helpers"
    author: "Ops"
    license: "MIT"
    functions: [slugify, notify]
    dependencies: [{ name: base, version: ">=1.0" }]
    capabilities: {
        http: { allowed_hosts: ["hooks.example.com", "127.0.0.1:9000"] }
        env: [GREETING]
    }
    limits: { memory_mb: 32, timeout: 250ms, instances: 2 }
}
connector in { type: http  path: "/in/orders" }
connector out { type: log }
flow orders {
    source: in
    step slug { plugin: text.slugify }
    step shape { transform: { title: "=plugin.text.slugify(title)" } }
    sink all { connector: out }
}
workflow announce {
    steps {
        notify { plugin: "text.notify"  input: { text: "{{input.text}}" } }
    }
}
on "order.created" do plugin "text.notify"
`
	colonless := `plugin text {
    path "plugins/text.wasm"
    version "1.2.0"
    description "Text helpers"
    author "Ops"
    license "MIT"
    functions [slugify, notify]
    dependencies [{ name base  version ">=1.0" }]
    capabilities {
        http { allowed_hosts ["hooks.example.com", "127.0.0.1:9000"] }
        env [GREETING]
    }
    limits { memory_mb 32  timeout 250ms  instances 2 }
}
connector in {
    type http
    path "/in/orders"
}
connector out { type log }
flow orders {
    source in
    step slug { plugin text.slugify }
    step shape { transform { title "=plugin.text.slugify(title)" } }
    sink all { connector out }
}
workflow announce {
    steps {
        notify { plugin "text.notify"  input { text "{{input.text}}" } }
    }
}
on "order.created" do plugin "text.notify"
`
	yaml := `plugins:
  text:
    path: plugins/text.wasm
    version: 1.2.0
    description: Text helpers
    author: Ops
    license: MIT
    functions: [slugify, notify]
    dependencies: [{name: base, version: ">=1.0"}]
    capabilities:
      http: {allowed_hosts: [hooks.example.com, "127.0.0.1:9000"]}
      env: [GREETING]
    limits: {memory_mb: 32, timeout: 250ms, instances: 2}
connectors:
  in: {type: http, path: /in/orders}
  out: {type: log}
flows:
  orders:
    source: in
    steps:
      slug: {plugin: text.slugify}
      shape: {transform: {title: "=plugin.text.slugify(title)"}}
    sinks:
      all: {connector: out}
workflows:
  announce:
    steps:
      notify: {plugin: text.notify, input: {text: "{{input.text}}"}}
handlers:
  - {on: order.created, do: plugin, target: text.notify}
`
	cfg, diags := Decode("t.cai", []byte(colon))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	p := cfg.Plugin("text")
	if p == nil || p.Path != filepath.Join(".", "plugins/text.wasm") || p.Version != "1.2.0" || !slices.Equal(p.Functions, []string{"slugify", "notify"}) ||
		!slices.Equal(p.HTTPHosts, []string{"hooks.example.com", "127.0.0.1:9000"}) || !slices.Equal(p.Env, []string{"GREETING"}) ||
		p.MemoryMB != 32 || p.Timeout != 250*time.Millisecond || p.Instances != 2 || len(p.Dependencies) != 1 || p.Dependencies[0] != (PluginDependency{"base", ">=1.0"}) {
		t.Errorf("plugin = %+v", p)
	}
	if s := cfg.Flow("orders").Steps[0]; s.Kind != StepPlugin || s.Plugin != "text" || s.Function != "slugify" {
		t.Errorf("flow step = %+v", s)
	}
	if s := cfg.Workflow("announce").Steps[0]; s.Kind != WorkflowPlugin || s.Target != "text.notify" {
		t.Errorf("workflow step = %+v", s)
	}
	if h := cfg.Handlers[0]; h.Action != "plugin" || h.Target != "text.notify" {
		t.Errorf("handler = %+v", h)
	}
	var refs []string
	for _, r := range cfg.PluginRefs() {
		refs = append(refs, r.What+": "+r.Plugin+"."+r.Function)
	}
	if want := []string{"flow orders step slug: text.slugify", "flow orders step shape: text.slugify", "workflow announce step notify: text.notify", `on "order.created" do plugin: text.notify`}; !slices.Equal(refs, want) {
		t.Errorf("refs = %q, want %q", refs, want)
	}
	other := map[string]func() (*Config, Diagnostics){
		"colon-less": func() (*Config, Diagnostics) { return Decode("t.cai", []byte(colonless)) },
		"yaml":       func() (*Config, Diagnostics) { return Decode("t.yaml", []byte(yaml)) },
	}
	for name, decode := range other {
		got, diags := decode()
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags.Err())
		}
		for _, diff := range []string{
			cmp.Diff(cfg.Plugins, got.Plugins, ignorePos),
			cmp.Diff(cfg.Flows, got.Flows, ignorePos),
			cmp.Diff(cfg.Workflows, got.Workflows, ignorePos),
			cmp.Diff(cfg.Handlers, got.Handlers, ignorePos),
		} {
			if diff != "" {
				t.Errorf("%s decodes differently (-colon +other):\n%s", name, diff)
			}
		}
	}
}

// TestPluginErrors: a use of a declared plugin's missing function is an error at its
// position; a plugin not declared is a warning (it may be registered at run time).
func TestPluginErrors(t *testing.T) {
	const decl = `plugin text { path: "t.wasm"  version: "1.0.0"  functions: [slugify] }
connector in { type: http  path: "/in/x" }
connector out { type: log }
`
	for src, want := range map[string]string{
		decl + `flow f { source: in  step s { plugin: text.slugfy }  sink o { connector: out } }`:                       `t.cai:4:22: flow f step s: plugin text has no function "slugfy" (its functions: slugify); did you mean "slugify"?`,
		decl + `flow f { source: in  step s { transform: { a: "=plugin.text.upper(a)" } }  sink o { connector: out } }`: `t.cai:4:22: flow f step s: plugin text has no function "upper" (its functions: slugify)`,
		decl + `flow f { source: in  step s { plugin: "text" }  sink o { connector: out } }`:                            `t.cai:4:39: plugin: expected a plugin function such as text.slugify, found "text"`,
		decl + `on "x" do plugin "text"`:                                                                                   `t.cai:4:18: on: do plugin: expected "plugin.function", found "text"`,
		decl + `workflow w { steps { a { plugin "text.nope" } } }`:                                                         `t.cai:4:33: workflow w step a: plugin text has no function "nope"`,
		decl + `workflow w { steps { a { plugin "text.slugify"  match { a: 1 } } } }`:                                      `workflow w step a: match does not go with plugin`,
		`plugin p { version: "1.0.0"  functions: [f] }`:                                                                    `t.cai:1:1: plugin p: missing path`,
		`plugin p { path: "p.wasm"  functions: [f] }`:                                                                      `t.cai:1:1: plugin p: missing version`,
		`plugin p { path: "p.wasm"  version: "1.0.0" }`:                                                                    `t.cai:1:1: plugin p: missing functions`,
		"plugin p { path: \"p.wasm\"  version: \"1.0.0\"\n functions: [f]\n capabilities { http { allowed_hosts: [] } } }": `allowed_hosts names no host`,
		"plugin p { path: \"p.wasm\"  version: \"1.0.0\"\n functions: [f]\n sandbox: off }":                                `unknown setting "sandbox" in plugin p`,
		decl + `plugin text { path: "t.wasm"  version: "1.0.0"  functions: [slugify] }`:                                    `plugin text is declared twice`,
	} {
		diags := diagsOf(t, src)
		if !slices.ContainsFunc(diags, func(d string) bool { return strings.Contains(d, want) }) {
			t.Errorf("%s:\n got %q\nwant %s…", src, diags, want)
		}
	}
	warn := diagsOf(t, `connector in { type: http  path: "/in/x" }
connector out { type: log }
flow f { source: in  step s { plugin: later.slugify }  sink o { connector: out } }`)
	if len(warn) != 1 || !strings.Contains(warn[0], `t.cai:3:22: warning: flow f step s: plugin "later" is not declared in the configuration: it must be registered (junction plugin register) before this runs, or its calls fail`) {
		t.Errorf("undeclared plugin: %q", warn)
	}
}
