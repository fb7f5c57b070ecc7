package flow

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/telemetry"
)

// A message is one trace: a "flow.message" span (a child of the traceparent its source
// brought in its headers, if any), with a "flow.step" span per step and a "flow.sink"
// span per sink write; an integration an enrich step calls hangs under its step. The
// flow's `monitoring { tracing }` picks which messages are traced: false none, a
// sample_rate a share of them, otherwise the process's setting. Attributes are names:
// flow, step, sink, outcome; never the message.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/flow"

// flowTracer is the tracer of a flow's spans, by its monitoring settings. It is made
// when the flow is built, so the process's tracing must be set up before.
func flowTracer(t config.Tracing) trace.Tracer {
	switch {
	case t.Declared && !t.On:
		return telemetry.SampledTracer(tracerScope, 0, true)
	case t.Declared:
		return telemetry.SampledTracer(tracerScope, t.SampleRate, false)
	default:
		return telemetry.SampledTracer(tracerScope, 1, false)
	}
}

// startMessageSpan starts a message's span.
func (f *Flow) startMessageSpan(ctx context.Context, headers map[string]string) (context.Context, trace.Span) {
	if !telemetry.TracingEnabled() {
		return ctx, telemetry.NoSpan()
	}
	if tp := headers["traceparent"]; tp != "" {
		ctx = telemetry.ContextWithTraceParent(ctx, tp)
	}
	ctx, span := f.tracer.Start(ctx, "flow.message", trace.WithSpanKind(trace.SpanKindConsumer))
	span.SetAttributes(attribute.String("junction.flow", f.cfg.Name))
	return ctx, span
}

// startStepSpan starts the span of a step ("flow.step") or a sink write ("flow.sink").
func (f *Flow) startStepSpan(ctx context.Context, name, key, value string) (context.Context, trace.Span) {
	if !telemetry.TracingEnabled() {
		return ctx, telemetry.NoSpan()
	}
	ctx, span := f.tracer.Start(ctx, name)
	span.SetAttributes(attribute.String("junction.flow", f.cfg.Name), attribute.String(key, value))
	return ctx, span
}

// endSpan ends a step's or message's span, marked failed with the step's name when
// serr is set (its text may quote the message).
func endSpan(span trace.Span, attempts int, serr *StepError) {
	if !span.IsRecording() {
		return
	}
	if attempts > 0 {
		span.SetAttributes(attribute.Int("junction.attempts", attempts))
	}
	if serr != nil {
		telemetry.SpanError(span, "failed at "+serr.Step)
	}
	span.End()
}
