package webhook

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/store"
)

// Metrics are the webhook series on /metrics.
type Metrics struct {
	published      prometheus.Counter
	deliveries     *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	queue          *queueCollector
	ingested       *prometheus.CounterVec
}

// NewMetrics registers the webhook metrics on reg; call it once per registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "junction_webhook_deliveries_created_total", Help: "Deliveries created by publishing events.",
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_webhook_attempts_total", Help: "Delivery attempts by outcome: delivered, retrying, failed (for good), gone (410).",
		}, []string{"outcome"}),
		attemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "junction_webhook_attempt_duration_seconds", Help: "Duration of delivery attempts.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		queue: newQueueCollector(),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_webhook_ingested_total", Help: "Inbound webhooks by source and outcome: accepted, duplicate, rejected.",
		}, []string{"source", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.published, m.deliveries, m.attemptSeconds, m.queue, m.ingested} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return m, nil
}

// queueScrapeTimeout bounds the store query a scrape makes: a scrape that cannot read
// the queue in time shows no queue gauges rather than hanging or showing old values.
const queueScrapeTimeout = 2 * time.Second

// queueCollector reads the queue gauges from the store when scraped, so they say what
// the store holds at that moment, whichever process delivered the deliveries.
type queueCollector struct {
	due, depth, oldestDue, deadLetters, openCircuits *prometheus.Desc
	source                                           atomic.Pointer[queueSource]
}

type queueSource struct {
	store store.Store
	clock clock.Clock
}

func newQueueCollector() *queueCollector {
	return &queueCollector{
		due:          prometheus.NewDesc("junction_webhook_queue_due", "Deliveries due now.", nil, nil),
		depth:        prometheus.NewDesc("junction_webhook_queue_depth", "Deliveries pending or waiting for a retry.", nil, nil),
		oldestDue:    prometheus.NewDesc("junction_webhook_queue_oldest_due_seconds", "How long the oldest due delivery has been due.", nil, nil),
		deadLetters:  prometheus.NewDesc("junction_webhook_dead_letters", "Deliveries in the dead-letter queue.", nil, nil),
		openCircuits: prometheus.NewDesc("junction_webhook_endpoint_circuits_open", "Active endpoints whose circuit is not closed (open, or half-open).", nil, nil),
	}
}

// setSource makes the gauges read st (at c's time) from now on.
func (q *queueCollector) setSource(st store.Store, c clock.Clock) {
	q.source.Store(&queueSource{store: st, clock: c})
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{q.due, q.depth, q.oldestDue, q.deadLetters, q.openCircuits} {
		ch <- d
	}
}

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	src := q.source.Load()
	if src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), queueScrapeTimeout)
	defer cancel()
	now := src.clock.Now().UTC()
	st, err := src.store.QueueStats(ctx, now)
	if err != nil {
		return
	}
	age := 0.0
	if st.OldestDueSince != nil {
		age = max(now.Sub(*st.OldestDueSince).Seconds(), 0)
	}
	for d, v := range map[*prometheus.Desc]float64{
		q.due: float64(st.Due), q.depth: float64(st.Waiting), q.oldestDue: age,
		q.deadLetters: float64(st.DeadLetters), q.openCircuits: float64(st.OpenCircuits),
	} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
}
