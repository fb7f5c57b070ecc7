// Package telemetry sets up Junction's logs and metrics: a slog logger built from the
// configured format and level, a Secret type that redacts itself wherever it is printed
// or logged, and the Prometheus registry every other package registers its metrics on.
//
// Junction uses its own registry rather than the prometheus default one so tests and
// config reloads can build fresh servers without "duplicate metrics collector" panics.
package telemetry
