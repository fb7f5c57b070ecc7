package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a fresh Prometheus registry with the Go runtime collector
// (go_goroutines, go_memstats_…) and the process collector (process_cpu_seconds_total,
// process_open_fds, …) registered. Each call returns an independent registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// MustRegister cannot panic here: the registry is new and the two collectors
	// describe disjoint metric names.
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
