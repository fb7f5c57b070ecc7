package handler

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
)

// An execution is a "handler.execution" span, a consumer of its event: the call,
// publish or workflow start it makes hangs under it. Attributes are names and ids, never
// the event's data.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/handler"

// startExecutionSpan starts the span of performing an execution.
func startExecutionSpan(ctx context.Context) (context.Context, trace.Span) {
	return telemetry.StartSpan(ctx, tracerScope, "handler.execution", trace.SpanKindConsumer)
}

// endExecutionSpan records the execution's outcome and ends its span.
func endExecutionSpan(span trace.Span, x store.HandlerExecution, o store.HandlerOutcome) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("junction.handler", x.Handler), attribute.String("junction.event_id", x.EventID),
		attribute.String("junction.event_type", x.EventType), attribute.Int("junction.attempt", o.Attempts),
		attribute.String("junction.status", string(o.Status)))
	if o.Status != store.HandlerDone {
		telemetry.SpanError(span, "handler failed")
	}
	span.End()
}
