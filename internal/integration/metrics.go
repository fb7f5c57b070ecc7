package integration

import (
	"fmt"
	"sync/atomic"

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

// opMetrics are one operation's series, each resolved on its first use (an operation
// never called shows none) and then kept, so a call does not look its series up by
// label values.
type opMetrics struct {
	m                      *Metrics
	integration, operation string

	success, cacheHitCall, upstreamError lazy[prometheus.Counter]
	duration                             lazy[prometheus.Observer]
	cacheHit, cacheMiss, cacheStale      lazy[prometheus.Counter]
	retries, contract                    lazy[prometheus.Counter]
}

func newOpMetrics(m *Metrics, integration, operation string) opMetrics {
	return opMetrics{m: m, integration: integration, operation: operation}
}

// call is the calls counter of one outcome.
func (om *opMetrics) call(outcome string) prometheus.Counter {
	var l *lazy[prometheus.Counter]
	switch outcome {
	case "success":
		l = &om.success
	case "cache_hit":
		l = &om.cacheHitCall
	case "upstream_error":
		l = &om.upstreamError
	default:
		return om.m.calls.WithLabelValues(om.integration, om.operation, outcome)
	}
	return l.get(func() prometheus.Counter { return om.m.calls.WithLabelValues(om.integration, om.operation, outcome) })
}

// cache is the cache counter of one lookup result (hit, miss or stale).
func (om *opMetrics) cache(result string) prometheus.Counter {
	l := &om.cacheMiss
	switch result {
	case CacheHit:
		l = &om.cacheHit
	case CacheStale:
		l = &om.cacheStale
	}
	return l.get(func() prometheus.Counter { return om.m.cache.WithLabelValues(om.integration, om.operation, result) })
}

func (om *opMetrics) observeDuration(seconds float64) {
	om.duration.get(func() prometheus.Observer { return om.m.duration.WithLabelValues(om.integration, om.operation) }).Observe(seconds)
}

func (om *opMetrics) addRetries(n int) {
	om.retries.get(func() prometheus.Counter { return om.m.retries.WithLabelValues(om.integration, om.operation) }).Add(float64(n))
}

func (om *opMetrics) contractMismatch() {
	om.contract.get(func() prometheus.Counter { return om.m.contract.WithLabelValues(om.integration, om.operation) }).Inc()
}

// lazy is a value made on first use. Two first uses at once may both make it; each makes
// the same series, so either result is right.
type lazy[T any] struct{ p atomic.Pointer[T] }

func (l *lazy[T]) get(mk func() T) T {
	if p := l.p.Load(); p != nil {
		return *p
	}
	v := mk()
	l.p.Store(&v)
	return v
}
