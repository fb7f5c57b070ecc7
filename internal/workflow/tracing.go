package workflow

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
)

// Each time a process executes a run (a run that waits is executed again later) it is a
// "workflow.run" span, with a "workflow.step" span per step it runs; the integrations a
// step calls hang under the step. Attributes are names and ids: workflow, run id, step,
// status; never the input or a step's output.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/workflow"

// startRunSpan starts the span of executing run.
func startRunSpan(ctx context.Context, run store.WorkflowRun) (context.Context, trace.Span) {
	ctx, span := telemetry.StartSpan(ctx, tracerScope, "workflow.run", trace.SpanKindInternal)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("junction.workflow", run.Workflow), attribute.String("junction.run_id", run.ID))
	}
	return ctx, span
}

// endRunSpan records where the run stands and ends its span.
func endRunSpan(span trace.Span, run store.WorkflowRun) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("junction.status", string(run.Status)))
	if run.Status == store.WorkflowFailed {
		telemetry.SpanError(span, "workflow failed")
	}
	span.End()
}

// startStepSpan starts the span of one step.
func startStepSpan(ctx context.Context, workflow, stepID, kind string) (context.Context, trace.Span) {
	ctx, span := telemetry.StartSpan(ctx, tracerScope, "workflow.step", trace.SpanKindInternal)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("junction.workflow", workflow), attribute.String("junction.step", stepID),
			attribute.String("junction.step_kind", kind))
	}
	return ctx, span
}

// endStepSpan records the step's outcome and ends its span.
func endStepSpan(span trace.Span, o outcome) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("junction.status", string(o.row.Status)))
	if o.err != nil {
		telemetry.SpanError(span, "step failed")
	}
	span.End()
}
