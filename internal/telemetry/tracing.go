package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/junctionhq/junction/internal/redact"
)

// Tracing is process-wide, like the OTLP collector it exports to: one tracer provider,
// installed as OpenTelemetry's global one so that every package reaches it without
// plumbing, and a flag the hot paths read before they build a span. While tracing is off
// StartSpan hands back the caller's context and a no-op span without allocating, so a
// gateway call costs what it did before tracing existed.

// DefaultServiceName is service.name when OTEL_SERVICE_NAME does not say otherwise.
const DefaultServiceName = "junction"

// TracingSettings are the configuration's part in turning tracing on: the flows'
// `monitoring { tracing … }`. The OTEL_* variables have the last word.
type TracingSettings struct {
	On       bool   // some flow declares tracing
	Endpoint string // the collector's base URL from `tracing { endpoint }`; "" for none
	// Logger receives the exporter's failures (a collector that does not answer);
	// nil leaves them to OpenTelemetry's default, stderr.
	Logger *slog.Logger
}

var (
	tracingOn atomic.Bool
	// active holds what the running provider was built from, so SampledTracer can make
	// providers that share its span processor (a flow's own sample rate).
	activeMu sync.Mutex
	active   *tracingState
	// activeProvider is the installed provider, which StopTracing shuts down.
	activeProvider *sdktrace.TracerProvider
)

type tracingState struct {
	processor sdktrace.SpanProcessor
	resource  *resource.Resource
	// started is what StartTracing was given, for ReconfigureTracing; nil when the
	// provider was installed otherwise (tests).
	started *startedTracing
}

// startedTracing is what StartTracing turned tracing on with.
type startedTracing struct {
	batcher  *batcher
	settings TracingSettings
	getenv   func(string) string
	// byEnv: an OTEL_* variable names the endpoint or turns tracing on, so the
	// configuration's settings do not decide.
	endpointByEnv, onByEnv bool
}

// TracingEnabled reports whether spans are being recorded; code that would build
// attributes or inject headers asks first.
func TracingEnabled() bool { return tracingOn.Load() }

// noopSpan is what StartSpan returns while tracing is off: a value of zero size, so
// returning it as a trace.Span does not allocate.
var noopSpan trace.Span = noop.Span{}

// NoSpan is the no-op span, for code that starts a span only while tracing is on.
func NoSpan() trace.Span { return noopSpan }

// StartSpan starts a span named name as a child of the span in ctx, with the tracer of
// scope (the package, "junction/integration"). Off, it returns ctx and a no-op span.
func StartSpan(ctx context.Context, scope, name string, kind trace.SpanKind) (context.Context, trace.Span) {
	if !tracingOn.Load() {
		return ctx, noopSpan
	}
	opts := kindOptions[trace.SpanKindInternal]
	if int(kind) < len(kindOptions) {
		opts = kindOptions[kind]
	}
	return tracerOf(scope).Start(ctx, name, opts...)
}

// kindOptions are the start options of each span kind, built once: a variadic slice
// passed to an interface method is allocated on every call.
var kindOptions = func() [][]trace.SpanStartOption {
	kinds := []trace.SpanKind{trace.SpanKindUnspecified, trace.SpanKindInternal, trace.SpanKindServer,
		trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer}
	opts := make([][]trace.SpanStartOption, len(kinds))
	for _, k := range kinds {
		opts[k] = []trace.SpanStartOption{trace.WithSpanKind(k)}
	}
	return opts
}()

// tracerSet is the installed provider's tracers by scope. The provider's own Tracer
// builds a configuration and takes a lock shared by every goroutine on each call, and
// a request starts several spans.
type tracerSet struct {
	provider trace.TracerProvider
	byScope  sync.Map // scope → trace.Tracer
}

// tracers is the set of the installed provider; InstallTracing replaces it.
var tracers atomic.Pointer[tracerSet]

// tracerOf returns the installed provider's tracer of scope.
func tracerOf(scope string) trace.Tracer {
	set := tracers.Load()
	if set == nil { // tracing was stopped since the caller looked
		return noop.Tracer{}
	}
	if t, ok := set.byScope.Load(scope); ok {
		return t.(trace.Tracer)
	}
	t, _ := set.byScope.LoadOrStore(scope, set.provider.Tracer(scope))
	return t.(trace.Tracer)
}

// InjectTraceContext writes the W3C traceparent (and tracestate) of the span in ctx into
// h, so the receiver's spans join the trace. Nothing is written while tracing is off.
func InjectTraceContext(ctx context.Context, h map[string][]string) {
	if tracingOn.Load() {
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(h))
	}
}

// ExtractTraceContext returns ctx carrying the remote span context of a traceparent in
// h, so the spans started under it are its children. ctx is returned as is while
// tracing is off.
func ExtractTraceContext(ctx context.Context, h map[string][]string) context.Context {
	if !tracingOn.Load() {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.HeaderCarrier(h))
}

// TraceParent returns the traceparent of the span in ctx ("" while tracing is off or
// without a span), for storing with work done later (a webhook delivery's attempts).
func TraceParent(ctx context.Context) string {
	if !tracingOn.Load() || !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// ContextWithTraceParent is ctx with the remote span context a stored traceparent names;
// ctx as is for "" or a malformed value.
func ContextWithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" || !tracingOn.Load() {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// SpanError marks span failed with a short, secret-free description (an error kind,
// never an error's text, which may quote an upstream's answer).
func SpanError(span trace.Span, description string) {
	if span.IsRecording() {
		span.SetStatus(codes.Error, description)
	}
}

// SampledTracer returns the tracer of scope for work with its own sampling, such as a
// flow's `tracing { sample_rate }`: rate is the share of new traces kept (0 to 1); off
// keeps none. Its spans go through the running provider's processor, and follow their
// parent's decision when they have one. While tracing is off, or for rate 1 and not off,
// it is the process's tracer.
func SampledTracer(scope string, rate float64, off bool) trace.Tracer {
	activeMu.Lock()
	st := active
	activeMu.Unlock()
	if st == nil || (!off && rate >= 1) {
		return processTracer{scope: scope}
	}
	sampler := sdktrace.TraceIDRatioBased(rate)
	if off {
		sampler = sdktrace.NeverSample()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(st.processor), sdktrace.WithResource(st.resource),
		sdktrace.WithSampler(sdktrace.ParentBased(sampler)))
	return tp.Tracer(scope)
}

// processTracer starts spans on whatever provider is installed when it is used, and
// none while tracing is off.
type processTracer struct {
	noop.Tracer
	scope string
}

func (t processTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !tracingOn.Load() {
		return ctx, noopSpan
	}
	return tracerOf(t.scope).Start(ctx, name, opts...)
}

// StartTracing installs the process's tracer provider when the environment or the
// configuration asks for tracing, and returns the function that flushes and stops it
// (a no-op when tracing stays off). getenv reads the OTEL_* variables:
//
//   - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: off, whatever the configuration says;
//   - OTEL_TRACES_EXPORTER=otlp, OTEL_EXPORTER_OTLP_ENDPOINT or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or settings.On: on, exporting over OTLP/HTTP;
//   - OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: http/protobuf (the default) or grpc;
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG) and the
//     exporter's own variables (headers, timeout, compression) as the SDK reads them.
//
// settings.Endpoint is used only when no OTEL endpoint variable is set (newExporter).
func StartTracing(ctx context.Context, getenv func(string) string, settings TracingSettings) (shutdown func(context.Context) error, err error) {
	nothing := func(context.Context) error { return nil }
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nothing, nil
	}
	on, onByEnv := settings.On, false
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exp {
	case "none":
		return nothing, nil
	case "otlp":
		on, onByEnv = true, true
	case "":
	default:
		return nil, fmt.Errorf("telemetry: OTEL_TRACES_EXPORTER=%q is not supported: use otlp or none", exp)
	}
	envEndpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	if !on && !envEndpoint {
		activeMu.Lock()
		offWith = &startedTracing{settings: settings, getenv: getenv}
		activeMu.Unlock()
		return nothing, nil
	}
	exporter, err := newExporter(ctx, getenv, settings.Endpoint)
	if err != nil {
		return nil, err
	}
	res, err := tracingResource(ctx, getenv)
	if err != nil {
		return nil, err
	}
	if settings.Logger != nil {
		otel.SetErrorHandler(exportErrors(settings.Logger))
	}
	// Without OTEL_TRACES_SAMPLER the SDK's default sampler applies: every new trace,
	// and a remote parent's decision.
	b := newBatcher(exporter, batchSettingsFrom(getenv))
	InstallTracing(b, res)
	activeMu.Lock()
	active.started = &startedTracing{batcher: b, settings: settings, getenv: getenv, endpointByEnv: envEndpoint,
		onByEnv: onByEnv}
	offWith = nil
	activeMu.Unlock()
	return StopTracing, nil
}

// offWith is what StartTracing was given when it left tracing off, so ReconfigureTracing
// can tell that a reload turns it on.
var offWith *startedTracing

// ErrTracingNeedsRestart says that a reloaded configuration turns tracing on or off,
// which takes a restart: the flows' tracers are chosen when tracing starts.
var ErrTracingNeedsRestart = errors.New("turning tracing on or off takes effect at the next start")

// ReconfigureTracing applies a reloaded configuration's tracing settings: a new
// collector endpoint takes effect at once, the spans still queued going to it; a
// change the OTEL_* variables override changes nothing. It returns whether the endpoint
// changed, and ErrTracingNeedsRestart when settings turn tracing on or off.
func ReconfigureTracing(ctx context.Context, settings TracingSettings) (retargeted bool, err error) {
	activeMu.Lock()
	var st *startedTracing
	if active != nil {
		st = active.started
	}
	off := offWith
	activeMu.Unlock()
	switch {
	case off != nil:
		if settings.On {
			return false, ErrTracingNeedsRestart
		}
		return false, nil
	case st == nil: // tracing was never started, or was stopped, or is a test's
		return false, nil
	case !settings.On && !st.onByEnv && !st.endpointByEnv:
		return false, ErrTracingNeedsRestart
	case st.endpointByEnv || settings.Endpoint == st.settings.Endpoint:
		return false, nil
	}
	exporter, err := newExporter(ctx, st.getenv, settings.Endpoint)
	if err != nil {
		return false, err
	}
	st.batcher.setExporter(ctx, exporter)
	activeMu.Lock()
	st.settings.Endpoint = settings.Endpoint
	activeMu.Unlock()
	return true, nil
}

// newExporter makes the OTLP exporter OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL names:
// http/protobuf (the default) or grpc, sending to the first of
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL), OTEL_EXPORTER_OTLP_ENDPOINT and
// the configuration's endpoint (base URLs, to which OTLP/HTTP adds /v1/traces), and
// http://localhost:4318 (4317 for grpc), the specification's default. The exporters
// read the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression,
// certificates) themselves.
func newExporter(ctx context.Context, getenv func(string) string, configured string) (sdktrace.SpanExporter, error) {
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	full := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	base := cmp.Or(getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), configured)
	var (
		exporter sdktrace.SpanExporter
		err      error
	)
	switch p := strings.TrimSpace(protocol); p {
	case "", "http/protobuf":
		url := cmp.Or(full, strings.TrimRight(cmp.Or(base, "http://localhost:4318"), "/")+"/v1/traces")
		if usesOTLPTLSVariables(getenv) {
			exporter, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
		} else {
			exporter, err = newOTLPHTTPExporter(url, getenv)
		}
	case "grpc":
		exporter, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cmp.Or(full, base, "http://localhost:4317")))
	default:
		return nil, fmt.Errorf("telemetry: OTLP protocol %q is not supported: use http/protobuf or grpc", p)
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: start tracing: %w", err)
	}
	return exporter, nil
}

// exportWarnEvery spaces the warnings of a collector that keeps failing: the batch
// processor tries every few seconds, and one line a minute says enough.
const exportWarnEvery = time.Minute

// exportErrors logs OpenTelemetry's errors (a collector that does not answer): a
// warning at most once per exportWarnEvery, the others at debug level, with any URL's
// user info and query redacted.
func exportErrors(logger *slog.Logger) otel.ErrorHandler {
	var last atomic.Int64
	return otel.ErrorHandlerFunc(func(err error) {
		err = redact.Error(err)
		now, prev := time.Now().UnixNano(), last.Load()
		if now-prev >= int64(exportWarnEvery) && last.CompareAndSwap(prev, now) {
			logger.Warn("tracing: spans not exported", "error", err)
			return
		}
		logger.Debug("tracing: spans not exported", "error", err)
	})
}

// tracingResource describes the process: service.name (OTEL_SERVICE_NAME, else
// "junction") and OTEL_RESOURCE_ATTRIBUTES.
func tracingResource(ctx context.Context, getenv func(string) string) (*resource.Resource, error) {
	name := strings.TrimSpace(getenv("OTEL_SERVICE_NAME"))
	if name == "" {
		name = DefaultServiceName
	}
	fromEnv, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry: tracing resource: %w", err)
	}
	// The explicit service name wins over OTEL_RESOURCE_ATTRIBUTES' one, as the
	// specification orders them.
	res, err := resource.Merge(fromEnv, resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("telemetry: tracing resource: %w", err)
	}
	return res, nil
}

// InstallTracing makes a tracer provider built on processor the process's one and turns
// tracing on; StartTracing uses it, and tests install an in-memory exporter with it.
func InstallTracing(processor sdktrace.SpanProcessor, res *resource.Resource) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res))
	activeMu.Lock()
	active = &tracingState{processor: processor, resource: res}
	activeProvider = tp
	tracers.Store(&tracerSet{provider: tp})
	activeMu.Unlock()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	tracingOn.Store(true)
}

// StopTracing turns tracing off and flushes the spans still queued to the collector.
func StopTracing(ctx context.Context) error {
	tracingOn.Store(false)
	activeMu.Lock()
	tp := activeProvider
	active, activeProvider, offWith = nil, nil, nil
	tracers.Store(nil)
	activeMu.Unlock()
	if tp == nil {
		return nil
	}
	if err := tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("telemetry: flush spans: %w", err)
	}
	return nil
}
