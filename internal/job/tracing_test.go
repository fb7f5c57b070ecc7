package job

import (
	"context"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
	"github.com/junctionhq/junction/internal/testkit"
)

// spanCaller records the span each call is made under.
type spanCaller struct {
	mu     sync.Mutex
	parent trace.SpanContext
}

func (c *spanCaller) Call(ctx context.Context, _, _ string, _ map[string]any, _ integration.CallOptions) (*integration.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parent = trace.SpanContextFromContext(ctx)
	return &integration.Result{Status: 200}, nil
}

// TestRunSpan: a traced run is a job.run span with the job's name, run id and outcome,
// and the call it makes runs under it.
func TestRunSpan(t *testing.T) {
	spans := telemetrytest.Trace(t)
	caller := &spanCaller{}
	r := triggerOnce(t, `retry 1 times with constant_backoff(10ms)`, caller)
	// The span ends just after the run is recorded.
	testkit.WaitFor(t, "the job.run span", func() bool { return len(spans.Named("job.run")) > 0 })
	runs := spans.Named("job.run")
	if len(runs) != 1 {
		t.Fatalf("%d job.run spans, want 1", len(runs))
	}
	sp := runs[0]
	if telemetrytest.Attr(sp, "junction.job") != "sync" || telemetrytest.Attr(sp, "junction.run_id") != r.ID ||
		telemetrytest.Attr(sp, "junction.status") != string(store.JobRunSucceeded) || telemetrytest.Attr(sp, "junction.attempts") != "1" {
		t.Errorf("span attributes %v", sp.Attributes)
	}
	caller.mu.Lock()
	defer caller.mu.Unlock()
	if caller.parent.SpanID() != sp.SpanContext.SpanID() {
		t.Errorf("the call ran under span %s, not the run's %s", caller.parent.SpanID(), sp.SpanContext.SpanID())
	}
}
