// Package telemetry sets up Junction's logs, metrics and traces: a slog logger built from
// the configured format and level, a Secret type that redacts itself wherever it is
// printed or logged, the Prometheus registry every other package registers its metrics
// on, and OpenTelemetry tracing (tracing.go), off unless OTEL_* or the configuration
// turns it on, when the instrumented paths pay one atomic load.
//
// Junction uses its own registry rather than the prometheus default one so tests and
// config reloads can build fresh servers without "duplicate metrics collector" panics.
package telemetry
