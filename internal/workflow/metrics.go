package workflow

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/internal/store"
)

// Metrics are the workflow series on /metrics. A nil *Metrics records nothing.
type Metrics struct {
	started     *prometheus.CounterVec
	ended       *prometheus.CounterVec
	stepSeconds *prometheus.HistogramVec
	attemptsN   *prometheus.CounterVec
	runs        *runsCollector
}

// NewMetrics registers the workflow metrics on reg; call it once per registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_workflow_runs_started_total", Help: "Workflow runs created, by workflow.",
		}, []string{"workflow"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_workflow_runs_finished_total", Help: "Workflow runs that ended in this process, by workflow and final status.",
		}, []string{"workflow", "status"}),
		stepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "junction_workflow_step_duration_seconds", Help: "Duration of workflow steps (retries included, waits excluded), by workflow, step and outcome.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"workflow", "step", "outcome"}),
		attemptsN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "junction_workflow_step_attempts_total", Help: "Attempts of workflow steps that call or emit, by workflow and step.",
		}, []string{"workflow", "step"}),
		runs: &runsCollector{desc: prometheus.NewDesc("junction_workflow_runs",
			"Workflow runs in the store by workflow and status (read when scraped).", []string{"workflow", "status"}, nil)},
	}
	for _, c := range []prometheus.Collector{m.started, m.ended, m.stepSeconds, m.attemptsN, m.runs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("workflow metrics: %w", err)
		}
	}
	return m, nil
}

// SetStore makes the runs gauge read st (the store outlives runtimes; set it once).
func (m *Metrics) SetStore(st store.WorkflowStore) {
	if m != nil {
		m.runs.st.Store(&st)
	}
}

func (m *Metrics) startedRun(workflow string) {
	if m != nil {
		m.started.WithLabelValues(workflow).Inc()
	}
}

func (m *Metrics) finished(r Run) {
	if m != nil {
		m.ended.WithLabelValues(r.Workflow, string(r.Status)).Inc()
	}
}

func (m *Metrics) attempts(workflow, step string, n int) {
	if m != nil && n > 0 {
		m.attemptsN.WithLabelValues(workflow, step).Add(float64(n))
	}
}

func (m *Metrics) step(workflow string, row store.WorkflowStep) {
	if m == nil || row.StartedAt == nil || row.FinishedAt == nil {
		return
	}
	m.stepSeconds.WithLabelValues(workflow, row.StepID, string(row.Status)).Observe(row.FinishedAt.Sub(*row.StartedAt).Seconds())
}

// runsCollector reads the run counts from the store when scraped, so they say what the
// store holds, whichever process ran the runs.
type runsCollector struct {
	desc *prometheus.Desc
	st   atomic.Pointer[store.WorkflowStore]
}

func (c *runsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *runsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.st.Load()
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := (*st).WorkflowCounts(ctx)
	if err != nil {
		return
	}
	for wf, byStatus := range counts {
		for status, n := range byStatus {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), wf, string(status))
		}
	}
}
