package flow

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the flow engine's Prometheus series, per flow and step.
type Metrics struct {
	messages *prometheus.CounterVec   // flow, outcome (received, delivered, filtered, dead_lettered, requeued)
	stepTime *prometheus.HistogramVec // flow, step
	failures *prometheus.CounterVec   // flow, step
	retries  *prometheus.CounterVec   // flow, step
	dlq      *dlqCollector
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_flow_messages_total",
			Help: "Messages of a flow by outcome: received from the source, delivered to every sink, filtered, dead_lettered, requeued (handed back to the source).",
		}, []string{"flow", "outcome"}),
		stepTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "junction_flow_step_duration_seconds",
			Help:    "Time a step (or a sink's write, step \"sink NAME\") took per message.",
			Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"flow", "step"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_flow_step_failures_total",
			Help: "Failed attempts of a step or sink.",
		}, []string{"flow", "step"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_flow_retries_total",
			Help: "Retries of a step or sink after a transient failure.",
		}, []string{"flow", "step"}),
		dlq: &dlqCollector{desc: prometheus.NewDesc("junction_flow_dead_letters",
			"Messages in a flow's dead-letter queue.", []string{"flow"}, nil)},
	}
	for _, c := range []prometheus.Collector{m.messages, m.stepTime, m.failures, m.retries, m.dlq} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// SetDeadLetters makes the dead-letter gauge read counts from s at each scrape.
func (m *Metrics) SetDeadLetters(s DeadLetterStore) { m.dlq.store.Store(&s) }

// flowMetrics are one flow's series, resolved once so counting a message costs no
// label lookups. A nil *flowMetrics counts nothing.
type flowMetrics struct {
	received                                    prometheus.Counter
	delivered, filtered, deadLettered, requeued prometheus.Counter
	stepTime                                    map[string]prometheus.Observer
	failures, retries                           map[string]prometheus.Counter
}

func (m *Metrics) forFlow(f *Flow) *flowMetrics {
	if m == nil {
		return nil
	}
	name := f.cfg.Name
	fm := &flowMetrics{
		received:     m.messages.WithLabelValues(name, "received"),
		delivered:    m.messages.WithLabelValues(name, OutcomeDelivered),
		filtered:     m.messages.WithLabelValues(name, OutcomeFiltered),
		deadLettered: m.messages.WithLabelValues(name, OutcomeDeadLettered),
		requeued:     m.messages.WithLabelValues(name, OutcomeRequeued),
		stepTime:     map[string]prometheus.Observer{},
		failures:     map[string]prometheus.Counter{},
		retries:      map[string]prometheus.Counter{},
	}
	steps := []string{"decode", "encode"}
	for _, s := range f.cfg.Steps {
		steps = append(steps, s.Name)
	}
	for _, s := range f.cfg.Sinks {
		steps = append(steps, "sink "+s.Name)
	}
	for _, s := range steps {
		fm.stepTime[s] = m.stepTime.WithLabelValues(name, s)
		fm.failures[s] = m.failures.WithLabelValues(name, s)
		fm.retries[s] = m.retries.WithLabelValues(name, s)
	}
	return fm
}

func (fm *flowMetrics) in() {
	if fm != nil {
		fm.received.Inc()
	}
}

func (fm *flowMetrics) outcome(o string) {
	if fm == nil {
		return
	}
	switch o {
	case OutcomeDelivered:
		fm.delivered.Inc()
	case OutcomeFiltered:
		fm.filtered.Inc()
	case OutcomeDeadLettered:
		fm.deadLettered.Inc()
	case OutcomeRequeued:
		fm.requeued.Inc()
	}
}

func (fm *flowMetrics) step(name string, took time.Duration, failed bool) {
	if fm == nil {
		return
	}
	if o := fm.stepTime[name]; o != nil {
		o.Observe(took.Seconds())
	}
	if failed {
		if c := fm.failures[name]; c != nil {
			c.Inc()
		}
	}
}

func (fm *flowMetrics) retry(name string) {
	if fm == nil {
		return
	}
	if c := fm.retries[name]; c != nil {
		c.Inc()
	}
}

// dlqCollector reads dead-letter counts from the store when scraped, so the gauge is
// right across restarts and replays without the engine keeping its own count.
type dlqCollector struct {
	desc  *prometheus.Desc
	store atomic.Pointer[DeadLetterStore]
}

func (c *dlqCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *dlqCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.store.Load()
	if s == nil || *s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := (*s).FlowDeadLetterCounts(ctx)
	if err != nil {
		return
	}
	for flow, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), flow)
	}
}
