package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkGatewaySpans records the spans of one gateway request as the server and the
// integration package make them (server span, call span, the upstream request's client
// span with its traceparent) and exports them over OTLP/HTTP to a loopback collector
// that discards them: what tracing at 100 % sampling adds to a request, export included.
func BenchmarkGatewaySpans(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BSP_MAX_QUEUE_SIZE": "4000000"}
	stop, err := StartTracing(context.Background(), func(k string) string { return env[k] }, TracingSettings{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stop(context.Background()) }()
	header := http.Header{}
	b.ReportAllocs()
	began := cpuTime()
	for b.Loop() {
		ctx := ExtractTraceContext(context.Background(), header)
		ctx, server := StartSpan(ctx, "junction/server", "POST /integrations/{name}/operations/{op}", trace.SpanKindServer)
		ctx, call := StartSpan(ctx, "junction/integration", "integration.call", trace.SpanKindInternal)
		call.SetAttributes(attribute.String("junction.integration", "Payments"), attribute.String("junction.operation", "create_charge"))
		cctx, client := StartSpan(ctx, "junction/integration", "POST", trace.SpanKindClient)
		out := http.Header{}
		InjectTraceContext(cctx, out)
		client.SetAttributes(attribute.String("http.request.method", "POST"), attribute.String("server.address", "127.0.0.1"),
			attribute.String("junction.integration", "Payments"), attribute.String("junction.operation", "create_charge"),
			attribute.Int("junction.attempt", 1), attribute.Int("http.response.status_code", 200))
		client.End()
		call.End()
		server.SetAttributes(attribute.String("http.request.method", "POST"), attribute.String("http.route", "POST /integrations/{name}/operations/{op}"),
			attribute.Int("http.response.status_code", 200))
		server.End()
	}
	// The spans still queued are part of the cost.
	if err := activeProvider.ForceFlush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-began)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used: the export goroutine's work counts.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
