package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/junctionhq/junction/internal/telemetry"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// collected is what a test collector received: span names and service names.
type collected struct {
	mu       sync.Mutex
	spans    []string
	services []string
}

func (c *collected) add(req *coltracepb.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				c.services = append(c.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				c.spans = append(c.spans, sp.Name)
			}
		}
	}
}

func (c *collected) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.spans, ",") + " from " + strings.Join(c.services, ",")
}

// httpCollector is an OTLP/HTTP collector on loopback.
func httpCollector(t *testing.T) (*collected, string) {
	t.Helper()
	c := &collected{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			t.Errorf("export to %s", r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.add(req)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(srv.Close)
	return c, srv.URL
}

// grpcCollector is an OTLP/gRPC collector on loopback.
type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	c *collected
}

func (g grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.c.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// emit starts tracing with getenv and settings, records one span and stops, which
// flushes it.
func emit(t *testing.T, getenv func(string) string, settings telemetry.TracingSettings) {
	t.Helper()
	stop, err := telemetry.StartTracing(context.Background(), getenv, settings)
	if err != nil {
		t.Fatal(err)
	}
	_, span := telemetry.StartSpan(context.Background(), "test", "probe", trace.SpanKindInternal)
	span.End()
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if telemetry.TracingEnabled() {
		t.Error("tracing still on after stop")
	}
}

// TestStartTracing: what turns tracing on, where spans go, and that stopping flushes.
func TestStartTracing(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		emit(t, envOf(nil), telemetry.TracingSettings{})
		ctx, span := telemetry.StartSpan(context.Background(), "test", "x", trace.SpanKindInternal)
		if span.IsRecording() || ctx != context.Background() {
			t.Error("a span was recorded with tracing off")
		}
	})
	t.Run("OTEL_EXPORTER_OTLP_ENDPOINT over http/protobuf", func(t *testing.T) {
		c, url := httpCollector(t)
		emit(t, envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": url}), telemetry.TracingSettings{})
		if got := c.String(); got != "probe from junction" {
			t.Errorf("collector got %q", got)
		}
	})
	t.Run("configuration endpoint and OTEL_SERVICE_NAME", func(t *testing.T) {
		c, url := httpCollector(t)
		emit(t, envOf(map[string]string{"OTEL_SERVICE_NAME": "edge"}), telemetry.TracingSettings{On: true, Endpoint: url})
		if got := c.String(); got != "probe from edge" {
			t.Errorf("collector got %q", got)
		}
	})
	t.Run("OTEL_TRACES_EXPORTER=none wins over the configuration", func(t *testing.T) {
		c, url := httpCollector(t)
		emit(t, envOf(map[string]string{"OTEL_TRACES_EXPORTER": "none"}), telemetry.TracingSettings{On: true, Endpoint: url})
		if got := c.String(); got != " from " {
			t.Errorf("collector got %q", got)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c := &collected{}
		srv := grpc.NewServer()
		coltracepb.RegisterTraceServiceServer(srv, grpcCollector{c: c})
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
		emit(t, envOf(map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), telemetry.TracingSettings{On: true, Endpoint: "http://" + ln.Addr().String()})
		if got := c.String(); got != "probe from junction" {
			t.Errorf("collector got %q", got)
		}
	})
	for _, bad := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_TRACES_EXPORTER": "otlp"},
		{"OTEL_TRACES_EXPORTER": "zipkin"},
	} {
		if _, err := telemetry.StartTracing(context.Background(), envOf(bad), telemetry.TracingSettings{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestTracingOffAllocatesNothing: with tracing off, what the hot paths call per request
// costs no allocation (the gateway's call must not get slower for tracing it does not use).
func TestTracingOffAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	h := http.Header{}
	n := testing.AllocsPerRun(100, func() {
		c, span := telemetry.StartSpan(ctx, "test", "x", trace.SpanKindInternal)
		if span.IsRecording() {
			t.Fatal("recording with tracing off")
		}
		telemetry.InjectTraceContext(c, h)
		_ = telemetry.ExtractTraceContext(c, h)
		span.End()
	})
	if n != 0 || len(h) != 0 {
		t.Errorf("%v allocations per span with tracing off, headers %v; want 0 and none", n, h)
	}
}

// TestStartSpanFollowsInstalledProvider: StartSpan keeps each scope's tracer, and a
// provider installed later (a restart of tracing) gets the spans, not the one before.
func TestStartSpanFollowsInstalledProvider(t *testing.T) {
	first, second := tracetest.NewInMemoryExporter(), tracetest.NewInMemoryExporter()
	telemetry.InstallTracing(sdktrace.NewSimpleSpanProcessor(first), resource.Empty())
	_, span := telemetry.StartSpan(context.Background(), "test", "one", trace.SpanKindServer)
	span.End()
	a := first.GetSpans() // before the stop, which empties the exporter
	if err := telemetry.StopTracing(context.Background()); err != nil {
		t.Fatal(err)
	}
	telemetry.InstallTracing(sdktrace.NewSimpleSpanProcessor(second), resource.Empty())
	t.Cleanup(func() { _ = telemetry.StopTracing(context.Background()) })
	_, span = telemetry.StartSpan(context.Background(), "test", "two", trace.SpanKindClient)
	span.End()
	b := second.GetSpans()
	if len(a) != 1 || a[0].Name != "one" || a[0].SpanKind != trace.SpanKindServer {
		t.Errorf("first provider got %v", a)
	}
	if len(b) != 1 || b[0].Name != "two" || b[0].SpanKind != trace.SpanKindClient || b[0].InstrumentationScope.Name != "test" {
		t.Errorf("second provider got %v", b)
	}
}

// TestReconfigureTracing: a reload that moves the collector sends the spans to the new
// one at once; one that turns tracing on or off says it takes a restart; the
// environment's endpoint is not overridden.
func TestReconfigureTracing(t *testing.T) {
	ctx := context.Background()
	probe := func() {
		_, span := telemetry.StartSpan(ctx, "test", "probe", trace.SpanKindInternal)
		span.End()
	}
	first, firstURL := httpCollector(t)
	second, secondURL := httpCollector(t)
	stop, err := telemetry.StartTracing(ctx, envOf(nil), telemetry.TracingSettings{On: true, Endpoint: firstURL})
	if err != nil {
		t.Fatal(err)
	}
	probe()
	if moved, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{On: true, Endpoint: firstURL}); moved || err != nil {
		t.Errorf("the same settings: moved %v, %v", moved, err)
	}
	if moved, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{On: true, Endpoint: secondURL}); !moved || err != nil {
		t.Fatalf("a new endpoint: moved %v, %v", moved, err)
	}
	probe()
	if _, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{}); !errors.Is(err, telemetry.ErrTracingNeedsRestart) {
		t.Errorf("turning tracing off by reload: %v", err)
	}
	if err := stop(ctx); err != nil {
		t.Fatal(err)
	}
	// The first probe was queued when the endpoint moved: it went to the second collector.
	if got, want := first.String()+" | "+second.String(), " from  | probe,probe from junction"; got != want {
		t.Errorf("collectors got %q, want %q", got, want)
	}

	stop, err = telemetry.StartTracing(ctx, envOf(nil), telemetry.TracingSettings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{On: true}); !errors.Is(err, telemetry.ErrTracingNeedsRestart) {
		t.Errorf("turning tracing on by reload: %v", err)
	}
	_ = stop(ctx)

	stop, err = telemetry.StartTracing(ctx, envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": firstURL}), telemetry.TracingSettings{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stop(ctx) }()
	if moved, err := telemetry.ReconfigureTracing(ctx, telemetry.TracingSettings{On: true, Endpoint: secondURL}); moved || err != nil {
		t.Errorf("the environment's endpoint: moved %v, %v", moved, err)
	}
}
