package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook series on /metrics.
type Metrics struct {
	published      prometheus.Counter
	deliveries     *prometheus.CounterVec
	attemptSeconds *prometheus.HistogramVec
	queueDue       prometheus.Gauge
	queueWaiting   prometheus.Gauge
	oldestDueAge   prometheus.Gauge
	deadLetters    prometheus.Gauge
	openCircuits   prometheus.Gauge
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
		queueDue:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "junction_webhook_queue_due", Help: "Deliveries due now."}),
		queueWaiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "junction_webhook_queue_depth", Help: "Deliveries pending or waiting for a retry."}),
		oldestDueAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "junction_webhook_queue_oldest_due_seconds", Help: "How long the oldest due delivery has been due."}),
		deadLetters:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "junction_webhook_dead_letters", Help: "Deliveries in the dead-letter queue."}),
		openCircuits: prometheus.NewGauge(prometheus.GaugeOpts{Name: "junction_webhook_endpoint_circuits_open", Help: "Endpoints whose circuit is open."}),
		ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_webhook_ingested_total", Help: "Inbound webhooks by source and outcome: accepted, duplicate, rejected.",
		}, []string{"source", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.published, m.deliveries, m.attemptSeconds, m.queueDue, m.queueWaiting, m.oldestDueAge, m.deadLetters, m.openCircuits, m.ingested} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return m, nil
}
