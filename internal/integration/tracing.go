package integration

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/telemetry"
)

// A call's spans: "integration.call" for the logical call (observe stage), with events
// for what the cache, rate limit and breaker decided; "integration.attempt" for each
// attempt (retry stage); and a client span per request sent (auth stage), whose context
// travels to the upstream as traceparent. Attributes are names and numbers only: never
// a URL (an api_key may sit in its query), a header or a body.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/integration"

// Span attribute keys shared with the other packages' spans.
const (
	attrIntegration = attribute.Key("junction.integration")
	attrOperation   = attribute.Key("junction.operation")
	attrAttempt     = attribute.Key("junction.attempt")
	attrStatus      = attribute.Key("http.response.status_code")
)

// spanEvent adds an event with one string attribute to the span in ctx, while tracing.
func spanEvent(ctx context.Context, name, key, value string) {
	if !telemetry.TracingEnabled() {
		return // before the context lookup: this runs on every call
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(name, trace.WithAttributes(attribute.String(key, value)))
	}
}
