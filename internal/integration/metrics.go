package integration

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus series of every integration. They are created once per
// process and shared by successive runtimes (a configuration reload builds a new
// runtime), so series survive reloads.
type Metrics struct {
	calls          *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	retries        *prometheus.CounterVec
	circuitState   *prometheus.GaugeVec
	transitions    *prometheus.CounterVec
	cache          *prometheus.CounterVec
	rateLimitWaits *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	contract       *prometheus.CounterVec
}

// NewMetrics registers the integration metrics on reg; call it once per registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_calls_total",
			Help: "Logical calls by integration, operation and outcome (success, upstream_error, the failure kind, or fallback_*).",
		}, []string{"integration", "operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_integration_call_duration_seconds",
			Help:    "Duration of logical calls, retries and waits included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"integration", "operation"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_retries_total",
			Help: "Attempts beyond the first.",
		}, []string{"integration", "operation"}),
		circuitState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "junction_integration_circuit_state",
			Help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}, []string{"integration"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_circuit_transitions_total",
			Help: "Circuit breaker state changes, by the state entered.",
		}, []string{"integration", "to"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_cache_total",
			Help: "Cache lookups by result: hit, miss or stale (served as fallback).",
		}, []string{"integration", "operation", "result"}),
		rateLimitWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_rate_limit_waits_total",
			Help: "Calls that waited for the rate limit.",
		}, []string{"integration"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_rate_limit_rejections_total",
			Help: "Calls refused because the rate limit would not free up before their deadline.",
		}, []string{"integration"}),
		contract: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_integration_contract_mismatches_total",
			Help: "Responses that did not match the operation's declared returns shape.",
		}, []string{"integration", "operation"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.duration, m.retries, m.circuitState, m.transitions, m.cache, m.rateLimitWaits, m.rateLimited, m.contract} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("integration metrics: %w", err)
		}
	}
	return m, nil
}
