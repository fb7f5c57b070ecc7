package plugin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/junctionhq/junction/internal/plugin"
	"github.com/junctionhq/junction/internal/plugin/plugintest"
)

// TestMetrics: every call is counted by plugin, function and outcome, and timed when it
// ran a function the plugin declares; calls of a plugin that is not registered, or of a
// function it does not declare, add no label value of their own.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	metrics, err := plugin.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plugin.NewMetrics(reg); err == nil {
		t.Error("the series registered twice on one registry")
	}
	m := plugin.NewManager(plugin.Options{CompilationCache: plugintest.Cache(), Metrics: metrics})
	t.Cleanup(func() { m.Close(context.Background()) })
	load(t, m, sandboxManifest("metered"))
	// A registered plugin that did not load: its calls are counted under its name.
	broken := sandboxManifest("broken")
	broken.Functions = []string{"echo", "slugify"}
	if err := m.Load(context.Background(), broken, plugintest.Module(t, "testdata/sandbox"), plugin.SourceAPI); err == nil {
		t.Fatal("a manifest the module does not match loaded")
	}

	for _, c := range []struct {
		plugin, fn, input, kind string
	}{
		{"metered", "echo", `1`, ""},
		{"metered", "echo", `2`, ""},
		{"metered", "echo", `3`, ""},
		{"metered", "upper", `"a"`, ""},
		{"metered", "panic", `null`, plugin.KindError},
		{"metered", "invalid", `{}`, plugin.KindError},
		{"metered", "nope", `{}`, plugin.KindError},
		{"metered", "nope_either", `{}`, plugin.KindError},
		{"ghost", "f", `{}`, plugin.KindUnavailable},
		{"phantom", "g", `{}`, plugin.KindUnavailable},
		{"broken", "echo", `1`, plugin.KindUnavailable},
		{"broken", "nope", `1`, plugin.KindUnavailable},
	} {
		_, ce := call(t, m, c.plugin, c.fn, c.input)
		if (c.kind == "" && ce != nil) || (c.kind != "" && (ce == nil || ce.Kind != c.kind)) {
			t.Fatalf("%s.%s: %v, want kind %q", c.plugin, c.fn, ce, c.kind)
		}
	}

	calls := samples(t, reg, "junction_plugin_calls_total")
	want := map[string]float64{
		"metered echo ok":                      3,
		"metered upper ok":                     1,
		"metered panic error":                  1,
		"metered invalid error":                1,
		"metered (unknown) error":              2,
		"(unregistered) (unknown) unavailable": 2,
		"broken echo unavailable":              1,
		"broken (unknown) unavailable":         1,
		"metered loop ok":                      0, // each declared function's ok series from the load on
		"metered hoard ok":                     0,
	}
	for k, v := range want {
		if got, ok := calls[k]; !ok || got != v {
			t.Errorf("junction_plugin_calls_total{%s} = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// The ok series of the 12 functions and the 6 series of failures above: none names
	// ghost, phantom, nope, nope_either, f or g.
	if n, err := testutil.GatherAndCount(reg, "junction_plugin_calls_total"); err != nil || n != len(sandboxFunctions)+6 {
		t.Errorf("%d call series (%v), want %d:\n%v", n, err, len(sandboxFunctions)+6, calls)
	}

	// A call of a declared function is timed, failed or not; the others ran nothing.
	durations := samples(t, reg, "junction_plugin_call_duration_seconds")
	for k, v := range map[string]float64{"metered echo": 3, "metered upper": 1, "metered panic": 1, "metered invalid": 1, "metered loop": 0} {
		if got, ok := durations[k]; !ok || got != v {
			t.Errorf("junction_plugin_call_duration_seconds_count{%s} = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if n := len(durations); n != len(sandboxFunctions) {
		t.Errorf("%d duration series, want one per declared function of the loaded plugin: %v", n, durations)
	}
	// Each count is its function's calls, every outcome, and the series agree with the
	// plugin's own counters.
	perFunction := map[string]float64{}
	var meteredCalls, meteredErrors float64
	for k, v := range calls {
		perFunction[k[:strings.LastIndexByte(k, ' ')]] += v
		if strings.HasPrefix(k, "metered ") {
			meteredCalls += v
			if !strings.HasSuffix(k, " ok") {
				meteredErrors += v
			}
		}
	}
	for k, v := range durations {
		if perFunction[k] != v {
			t.Errorf("%s: %v calls timed, %v counted", k, v, perFunction[k])
		}
	}
	if s, _ := m.Status("metered"); float64(s.Calls) != meteredCalls || float64(s.Errors) != meteredErrors || s.Calls != 8 {
		t.Errorf("status calls %d, errors %d; the series count %v and %v", s.Calls, s.Errors, meteredCalls, meteredErrors)
	}

	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// samples reads a family's series from reg as "plugin function [outcome]" → a
// counter's value or a histogram's count.
func samples(t *testing.T, reg prometheus.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			key := labels["plugin"] + " " + labels["function"]
			if o, ok := labels["outcome"]; ok {
				key += " " + o
			}
			if h := s.GetHistogram(); h != nil {
				out[key] = float64(h.GetSampleCount())
			} else {
				out[key] = s.GetCounter().GetValue()
			}
		}
	}
	return out
}
