package integration

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/telemetry"
)

// A call's spans: "integration.call" for the logical call (observe stage), with events
// for what the cache, rate limit and breaker decided, and a client span per request sent
// (auth stage), whose context travels to the upstream as traceparent and which says its
// attempt (junction.attempt). An attempt is no span of its own: it is its request, or,
// when the rate limit or the breaker stopped it, their event on the call (a span less
// per call is about a fifth of what tracing costs a gateway request, bench/tracing).
// Attributes are names and numbers only: never a URL (an api_key may sit in its query),
// a header or a body.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/integration"

// Span attribute keys shared with the other packages' spans.
const (
	attrIntegration = attribute.Key("junction.integration")
	attrOperation   = attribute.Key("junction.operation")
	attrAttempt     = attribute.Key("junction.attempt")
	attrStatus      = attribute.Key("http.response.status_code")
)

// spanEvent is an event a stage adds to the call's or the attempt's span: a name and
// one attribute, its options built once, since AddEvent's variadic options would be
// allocated on every call otherwise.
type spanEvent struct {
	name string
	opts []trace.EventOption
}

func newSpanEvent(name string, attr attribute.KeyValue) spanEvent {
	return spanEvent{name: name, opts: []trace.EventOption{trace.WithAttributes(attr)}}
}

// The stages' events.
var (
	eventCacheHit         = newSpanEvent("cache.lookup", cacheAttr.String(CacheHit))
	eventCacheMiss        = newSpanEvent("cache.lookup", cacheAttr.String(CacheMiss))
	eventBreakerAllowed   = newSpanEvent("circuit_breaker", attrDecision.String("allowed"))
	eventBreakerOpen      = newSpanEvent("circuit_breaker", attrDecision.String("open"))
	eventBulkheadFull     = newSpanEvent("circuit_breaker", attrDecision.String("bulkhead_full"))
	eventRateLimitWait    = newSpanEvent("rate_limit", attrDecision.String("wait"))
	eventRateLimitRefused = newSpanEvent("rate_limit", attrDecision.String("refused"))
)

// attrDecision is what a policy decided, on its event.
const attrDecision = attribute.Key("junction.decision")

// add adds the event to the span in ctx, while tracing.
func (e spanEvent) add(ctx context.Context) {
	if !telemetry.TracingEnabled() {
		return // before the context lookup: this runs on every call
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(e.name, e.opts...)
	}
}

// clientSpanName is the name of the client span of a request sent with method, built
// without allocating for the usual methods.
func clientSpanName(method string) string {
	switch method {
	case http.MethodGet:
		return "HTTP GET"
	case http.MethodPost:
		return "HTTP POST"
	case http.MethodPut:
		return "HTTP PUT"
	case http.MethodPatch:
		return "HTTP PATCH"
	case http.MethodDelete:
		return "HTTP DELETE"
	case http.MethodHead:
		return "HTTP HEAD"
	case http.MethodOptions:
		return "HTTP OPTIONS"
	}
	return "HTTP " + method
}
