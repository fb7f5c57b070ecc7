// Package telemetrytest lets tests see the spans Junction records: it installs the
// process's tracing with OpenTelemetry's in-memory exporter for one test and undoes it
// in the test's cleanup. Tracing is process-wide, so tests that use it must not run in
// parallel with other tests that record spans.
package telemetrytest
