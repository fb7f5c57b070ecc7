package integration

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
)

// The runtime's own cost per call, against a local upstream (run with -benchmem; the
// whole-process gateway benchmark is bench/gateway).

const benchConfig = `integration Pay { base_url: "UPSTREAM" auth: bearer(env(T))
	timeout: 5s retry: 2 times with exponential_backoff
	circuit_breaker: { threshold: 50 failures in 1m, reset_after: 30s, max_concurrent: 10000 }
	rate_limit: { requests: 100000000, window: 1s }
	default_cache_ttl: 1m fallback: cache
	idempotency: { header: "Idempotency-Key", generate: true }
	operation create { method: POST path: "/charges" body: { amount: integer, required  currency: string, default("usd") }
		returns: { id: string, status: string, amount: integer } }
	operation get { method: GET path: "/charges/{id}" returns: { id: string, status: string, amount: integer } } }`

func BenchmarkCall(b *testing.B) { benchCall(b, nil) }

// BenchmarkCallReported is BenchmarkCall with the usage reports recording every call:
// the difference is the reports' cost on the hot path.
func BenchmarkCallReported(b *testing.B) {
	rec, err := report.NewRecorder(report.Options{Store: &rollups{rows: map[string]store.ReportRollup{}}, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	benchCall(b, rec)
}

func benchCall(b *testing.B, reports *report.Recorder) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonOK(w, `{"id":"ch_1","status":"succeeded","amount":1000}`)
	}))
	defer up.Close()
	cfg, diags := config.Decode("bench.cai", []byte(strings.ReplaceAll(benchConfig, "UPSTREAM", up.URL)))
	if diags.HasErrors() {
		b.Fatal(diags.Err())
	}
	m, _ := NewMetrics(prometheus.NewRegistry())
	rt, err := New(cfg, Options{LookupEnv: func(string) (string, bool) { return "secret", true }, Logger: quietLogger(), Metrics: m, Reports: reports})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	h := &harness{rt: rt}
	ctx := context.Background()
	b.Run("post-all-policies", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.rt.Call(ctx, "Pay", "create", map[string]any{"amount": 1000}, CallOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proxy-post", func(b *testing.B) {
		b.ReportAllocs()
		fr := ForwardRequest{Method: "POST", Path: "/charges", Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"amount":1000}`)}
		for b.Loop() {
			if _, err := h.rt.Forward(ctx, "Pay", fr); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-cache-hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.rt.Call(ctx, "Pay", "get", map[string]any{"id": "ch_1"}, CallOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same call with tracing on, spans batched to an exporter that drops them: what
	// the spans cost. Last, since tracing is process-wide.
	b.Run("post-all-policies-traced", func(b *testing.B) {
		telemetry.InstallTracing(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter()), resource.Empty())
		b.Cleanup(func() { _ = telemetry.StopTracing(context.Background()) })
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.rt.Call(ctx, "Pay", "create", map[string]any{"amount": 1000}, CallOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
