package job

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry"
)

// A run is a "job.run" span, around its attempts: what the job does (a call, a
// publish, a workflow) hangs under it. Attributes are names and ids, never the input.

// tracerScope names the instrumentation scope of the package's spans.
const tracerScope = "junction/job"

// startRunSpan starts the span of executing a run.
func startRunSpan(ctx context.Context) (context.Context, trace.Span) {
	return telemetry.StartSpan(ctx, tracerScope, "job.run", trace.SpanKindInternal)
}

// endRunSpan records the run's outcome and ends its span.
func endRunSpan(span trace.Span, r Run) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("junction.job", r.Job), attribute.String("junction.run_id", r.ID),
		attribute.Bool("junction.manual", r.Manual), attribute.Int("junction.attempts", r.Attempts),
		attribute.String("junction.status", string(r.Status)))
	if r.Status == store.JobRunFailed {
		telemetry.SpanError(span, "job failed")
	}
	span.End()
}
