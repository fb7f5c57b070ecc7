package plugin

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The label values a call is counted under when its plugin or function is not one the
// manager holds. The labels take only names a plugin was loaded (or failed to load)
// with and functions its manifest declares, never a name a caller merely asked for:
// otherwise every name a flow step, a handler or a mapping expression ever tried (a
// typo, a plugin not registered yet) would stay a series of its own. The parentheses
// keep them apart from real names, which are letters, digits and _ (namePattern). A
// fixed value rather than "": in Prometheus an empty label value is the same as no
// label, which reads as a series missing its label.
const (
	unregisteredPlugin = "(unregistered)"
	unknownFunction    = "(unknown)"
)

// outcomeOK is the outcome of a call that returned its output; a failed one's outcome
// is its CallError's Kind.
const outcomeOK = "ok"

// Metrics are the plugin calls' series on /metrics. A nil *Metrics counts nothing.
type Metrics struct {
	calls    *prometheus.CounterVec   // plugin, function, outcome
	duration *prometheus.HistogramVec // plugin, function
}

// NewMetrics registers the plugin metrics on reg; call it once per registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_plugin_calls_total",
			Help: "Calls of plugin functions by outcome: ok, error, timeout, memory, trap, unavailable. A plugin not registered is plugin=\"(unregistered)\", a function the plugin does not declare function=\"(unknown)\".",
		}, []string{"plugin", "function", "outcome"}),
		// From a few microseconds (a small function's call) to the time limits (1 s by
		// default, at most 5 m: past 30 s only +Inf).
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_plugin_call_duration_seconds",
			Help:    "Duration of calls of the functions a loaded plugin declares, failed ones included.",
			Buckets: []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .01, .05, .25, 1, 5, 30},
		}, []string{"plugin", "function"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("plugin metrics: %w", err)
		}
	}
	return m, nil
}

// count counts a call under the labels given, which the caller has bounded.
func (m *Metrics) count(plugin, function string, err error) {
	if m != nil {
		m.calls.WithLabelValues(plugin, function, outcome(err)).Inc()
	}
}

func outcome(err error) string {
	if err == nil {
		return outcomeOK
	}
	if ce, ok := errors.AsType[*CallError](err); ok {
		return ce.Kind
	}
	return KindError
}

// pluginMetrics are one loaded plugin's series, resolved when it loads so that a call,
// a few microseconds, costs no label lookups when it succeeds. A nil *pluginMetrics
// counts nothing.
type pluginMetrics struct {
	m         *Metrics
	name      string
	functions map[string]functionMetrics
}

type functionMetrics struct {
	ok       prometheus.Counter
	duration prometheus.Observer
}

// forPlugin resolves the series of the plugin's functions.
func (m *Metrics) forPlugin(name string, functions []string) *pluginMetrics {
	if m == nil {
		return nil
	}
	pm := &pluginMetrics{m: m, name: name, functions: make(map[string]functionMetrics, len(functions))}
	for _, f := range functions {
		pm.functions[f] = functionMetrics{
			ok:       m.calls.WithLabelValues(name, f, outcomeOK),
			duration: m.duration.WithLabelValues(name, f),
		}
	}
	return pm
}

// observe counts a call of the plugin and, for a function it declares, its duration; a
// call of another function ran nothing, so it has no duration to show.
func (pm *pluginMetrics) observe(function string, took time.Duration, err error) {
	if pm == nil {
		return
	}
	f, ok := pm.functions[function]
	switch {
	case !ok:
		pm.m.count(pm.name, unknownFunction, err)
	case err == nil:
		f.duration.Observe(took.Seconds())
		f.ok.Inc()
	default:
		f.duration.Observe(took.Seconds())
		pm.m.count(pm.name, function, err)
	}
}
