package telemetry

import (
	"cmp"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// capture is an OTLP/HTTP collector on loopback that keeps the requests it decodes.
type capture struct {
	requests chan *coltracepb.ExportTraceServiceRequest
	headers  chan http.Header
	url      string
}

func newCapture(t *testing.T, answer func(n int32, w http.ResponseWriter) bool) *capture {
	t.Helper()
	c := &capture{requests: make(chan *coltracepb.ExportTraceServiceRequest, 16), headers: make(chan http.Header, 16)}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if answer != nil && answer(calls.Add(1), w) {
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(raw, req)
		}
		if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" || r.URL.Path != "/v1/traces" {
			t.Errorf("collector: %s %s (%s): %v", r.Method, r.URL.Path, r.Header.Get("Content-Type"), err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.headers <- r.Header.Clone()
		c.requests <- req
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL + "/v1/traces"
	return c
}

func (c *capture) next(t *testing.T) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	select {
	case r := <-c.requests:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the collector received nothing in 30 s")
		return nil
	}
}

// testSpans are spans of two resources and three scopes with every kind of attribute
// value, events, links, remote and local parents, trace state and each status.
func testSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	ts, err := trace.ParseTraceState("vendor=abc,other=x")
	if err != nil {
		t.Fatal(err)
	}
	ctx := func(tid, sid byte, remote bool, state trace.TraceState) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{tid, 1, 2, 3}, SpanID: trace.SpanID{sid, 9},
			TraceFlags: trace.FlagsSampled, TraceState: state, Remote: remote})
	}
	resA := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "junction"), attribute.Int("pid", 7))
	resB := resource.NewSchemaless(attribute.String("service.name", "other"))
	scopeA := instrumentation.Scope{Name: "junction/server", Version: "1.2.3", SchemaURL: "https://example.test/schema",
		Attributes: attribute.NewSet(attribute.Bool("scoped", true))}
	scopeB := instrumentation.Scope{Name: "junction/integration"}
	start := time.Date(2026, 12, 7, 1, 2, 3, 456789, time.UTC)
	all := []attribute.KeyValue{
		attribute.String("s", "text"), attribute.String("empty", ""), attribute.Bool("f", false), attribute.Bool("t", true),
		attribute.Int64("neg", -42), attribute.Int("zero", 0), attribute.Float64("pi", 3.14159), attribute.Float64("fzero", 0),
		attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -2, 1 << 40}),
		attribute.Float64Slice("fs", []float64{0.5, -1}), attribute.StringSlice("ss", []string{"a", "", "c"}),
		attribute.StringSlice("none", nil),
		{Key: "bytes", Value: attribute.ByteSliceValue([]byte{0, 1, 2})},
		{Key: "slice", Value: attribute.SliceValue(attribute.StringValue("x"), attribute.IntValue(3))},
		{Key: "map", Value: attribute.MapValue(attribute.String("k", "v"), attribute.Bool("b", true))},
		{Key: "nothing", Value: attribute.Value{}},
	}
	stubs := tracetest.SpanStubs{
		{Name: "POST /integrations/{name}/operations/{op}", SpanContext: ctx(1, 1, false, ts), Parent: ctx(1, 7, true, trace.TraceState{}),
			SpanKind: trace.SpanKindServer, StartTime: start, EndTime: start.Add(time.Millisecond), Attributes: all,
			DroppedAttributes: 3, Status: sdktrace.Status{Code: codes.Error, Description: "Bad Gateway"},
			Events:        []sdktrace.Event{{Name: "retry", Time: start.Add(10), Attributes: []attribute.KeyValue{attribute.Int("n", 2)}, DroppedAttributeCount: 1}},
			DroppedEvents: 2, Resource: resA, InstrumentationScope: scopeA},
		{Name: "integration.call", SpanContext: ctx(1, 2, false, trace.TraceState{}), Parent: ctx(1, 1, false, trace.TraceState{}),
			SpanKind: trace.SpanKindInternal, StartTime: start, EndTime: start.Add(time.Microsecond),
			Links:        []sdktrace.Link{{SpanContext: ctx(5, 5, true, ts), Attributes: []attribute.KeyValue{attribute.String("why", "batch")}, DroppedAttributeCount: 4}},
			DroppedLinks: 1, Status: sdktrace.Status{Code: codes.Ok}, Resource: resA, InstrumentationScope: scopeB},
		{Name: "POST", SpanContext: ctx(1, 3, false, trace.TraceState{}), Parent: ctx(1, 2, false, trace.TraceState{}),
			SpanKind: trace.SpanKindClient, StartTime: start, EndTime: start.Add(time.Second), Resource: resA, InstrumentationScope: scopeA},
		{Name: "", SpanContext: ctx(2, 4, false, trace.TraceState{}), SpanKind: trace.SpanKindConsumer, Resource: resB},
		{Name: "producer", SpanContext: ctx(2, 5, false, trace.TraceState{}), SpanKind: trace.SpanKindProducer, StartTime: start,
			EndTime: start, Resource: resA, InstrumentationScope: scopeB},
	}
	return stubs.Snapshots()
}

// normalize orders a request's resources and scopes: the SDK's exporter groups them
// through a map, so its order varies.
func normalize(req *coltracepb.ExportTraceServiceRequest) {
	key := func(rs *tracepb.ResourceSpans) string { return rs.GetResource().String() }
	slices.SortFunc(req.ResourceSpans, func(a, b *tracepb.ResourceSpans) int { return cmp.Compare(key(a), key(b)) })
	for _, rs := range req.ResourceSpans {
		slices.SortFunc(rs.ScopeSpans, func(a, b *tracepb.ScopeSpans) int { return cmp.Compare(a.GetScope().GetName(), b.GetScope().GetName()) })
	}
}

// TestOTLPEncodingMatchesTheSDK sends the same spans through the SDK's OTLP/HTTP
// exporter and Junction's; the collector must receive the same message from both.
func TestOTLPEncodingMatchesTheSDK(t *testing.T) {
	ctx := context.Background()
	spans := testSpans(t)

	sdkCollector := newCapture(t, nil)
	sdk, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(sdkCollector.url))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sdk.Shutdown(ctx) }()
	if err := sdk.ExportSpans(ctx, spans); err != nil {
		t.Fatalf("SDK export: %v", err)
	}
	want := sdkCollector.next(t)

	for _, compression := range []string{"", "gzip"} {
		ours := newCapture(t, nil)
		x, err := newOTLPHTTPExporter(ours.url, envOf(map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": compression}))
		if err != nil {
			t.Fatal(err)
		}
		for round := range 2 { // the second batch reuses the encoder's buffers
			if err := x.ExportSpans(ctx, spans); err != nil {
				t.Fatalf("export: %v", err)
			}
			got := ours.next(t)
			// The SDK leaves a link's trace state out; the specification has it.
			link := got.ResourceSpans[0].ScopeSpans[1].Spans[0].Links[0]
			if link.TraceState != "vendor=abc,other=x" {
				t.Errorf("link trace state %q", link.TraceState)
			}
			link.TraceState = ""
			if server := got.ResourceSpans[0].ScopeSpans[0].Spans[0]; server.TraceState != "vendor=abc,other=x" {
				t.Errorf("span trace state %q", server.TraceState)
			}
			normalize(got)
			normalize(want)
			if !proto.Equal(got, want) {
				t.Fatalf("compression %q, round %d: the collector received\n%v\nfrom Junction's exporter, and\n%v\nfrom the SDK's", compression, round, got, want)
			}
		}
		if err := x.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := x.ExportSpans(ctx, spans); err == nil {
			t.Error("an export after Shutdown succeeded")
		}
	}
}

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// TestOTLPHTTPExporterSettings: headers from the variables, retries while the collector
// is busy, no retry of a refusal, and clear errors for settings it cannot read.
func TestOTLPHTTPExporterSettings(t *testing.T) {
	ctx := context.Background()
	spans := testSpans(t)[:1]

	busy := newCapture(t, func(n int32, w http.ResponseWriter) bool {
		if n <= 2 {
			http.Error(w, "slow down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	x, err := newOTLPHTTPExporter(busy.url, envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_HEADERS":        "api-key=s%20ecret, x-team = core",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "",
		"OTEL_EXPORTER_OTLP_TIMEOUT":        "5000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	x.backoff = 10 * time.Millisecond
	if err := x.ExportSpans(ctx, spans); err != nil {
		t.Fatalf("export to a collector busy twice: %v", err)
	}
	if len(busy.next(t).ResourceSpans) != 1 {
		t.Error("the retried export lost its spans")
	}
	h := <-busy.headers
	if h.Get("Api-Key") != "s ecret" || h.Get("X-Team") != "core" || x.client.Timeout != 5*time.Second {
		t.Errorf("headers %v, timeout %s", h, x.client.Timeout)
	}

	refusing := newCapture(t, func(_ int32, w http.ResponseWriter) bool {
		http.Error(w, "no such tenant\nmore", http.StatusUnauthorized)
		return true
	})
	x, err = newOTLPHTTPExporter(refusing.url, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = x.ExportSpans(ctx, spans)
	if err == nil || !strings.Contains(err.Error(), `401 Unauthorized: "no such tenant"`) {
		t.Errorf("export refused with 401: %v", err)
	}

	for name, env := range map[string]map[string]string{
		"headers":     {"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "novalue"},
		"timeout":     {"OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
		"compression": {"OTEL_EXPORTER_OTLP_COMPRESSION": "zstd"},
	} {
		if _, err := newOTLPHTTPExporter(busy.url, envOf(env)); err == nil {
			t.Errorf("%s %v: no error", name, env)
		}
	}
	if _, err := newOTLPHTTPExporter("http://user:pw@/v1/traces?k=1", envOf(nil)); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("an endpoint without a host: %v", err)
	}
}
