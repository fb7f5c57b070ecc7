package webhook

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
)

// A publish is one span, "event.publish"; each delivery attempt is a span
// "webhook.delivery" in the publish's trace, made a child of the publish through the
// traceparent stored with the delivery (store.Delivery.TraceParent), so an attempt made
// minutes later, after a restart or by another process, still joins it. The receiver
// gets the attempt's traceparent. Attributes are names and numbers: event type, endpoint
// id, attempt, status; never the URL, a header or the payload.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/webhook"

// startPublishSpan starts the span of publishing an event of type eventType.
func startPublishSpan(ctx context.Context, eventType string) (context.Context, trace.Span) {
	ctx, span := telemetry.StartSpan(ctx, tracerScope, "event.publish", trace.SpanKindProducer)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("junction.event_type", eventType))
	}
	return ctx, span
}

// startAttemptSpan starts the span of one attempt of d to ep, in the publish's trace.
func startAttemptSpan(ctx context.Context, ep store.Endpoint, d store.Delivery) (context.Context, trace.Span) {
	if !telemetry.TracingEnabled() {
		return ctx, telemetry.NoSpan()
	}
	ctx = telemetry.ContextWithTraceParent(ctx, d.TraceParent)
	ctx, span := telemetry.StartSpan(ctx, tracerScope, "webhook.delivery", trace.SpanKindClient)
	span.SetAttributes(attribute.String("junction.endpoint_id", ep.ID), attribute.String("junction.event_type", d.EventType),
		attribute.Int("junction.attempt", d.AttemptCount+1))
	if ep.Managed {
		span.SetAttributes(attribute.String("junction.webhook", ep.Name)) // a declared webhook's name
	}
	return ctx, span
}

// endAttemptSpan records the attempt's answer and ends its span.
func endAttemptSpan(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		return
	}
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case err != nil:
		telemetry.SpanError(span, "not delivered")
	case status >= 400:
		telemetry.SpanError(span, "endpoint answered an error")
	}
	span.End()
}
