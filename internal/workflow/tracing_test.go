package workflow

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/integration"
	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
)

// spanCaller records the span each call runs under.
type spanCaller struct {
	mu    sync.Mutex
	spans map[string]trace.SpanContext
}

func (c *spanCaller) Call(ctx context.Context, in, op string, _ map[string]any, _ integration.CallOptions) (*integration.Result, error) {
	c.mu.Lock()
	c.spans[in+"."+op] = trace.SpanContextFromContext(ctx)
	c.mu.Unlock()
	return &integration.Result{Status: 200, Body: []byte(`{"ok":true}`)}, nil
}

// A run is a "workflow.run" span with a "workflow.step" child per step; a step's call
// runs under the step's span.
func TestTracingWorkflowRunAndSteps(t *testing.T) {
	spans := telemetrytest.Trace(t)
	caller := &spanCaller{spans: map[string]trace.SpanContext{}}
	wf := &config.Workflow{Name: "onboard", Steps: []*config.WorkflowStep{
		call("check", "Identity.verify", map[string]any{"ssn": "{{input.ssn}}"}),
		call("welcome", "Mail.send", map[string]any{"to": "{{input.email}}"}),
	}}
	e := newEngine(t, openSQLite(t), caller, wf)
	run, _ := runToEnd(t, e, "onboard", `{"ssn":"123-45-6789","email":"a@example.com"}`)
	deadline := time.Now().Add(30 * time.Second)
	for len(spans.Named("workflow.run")) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	runs, steps := spans.Named("workflow.run"), spans.Named("workflow.step")
	if len(runs) != 1 || len(steps) != 2 {
		t.Fatalf("%d run spans, %d step spans; want 1 and 2", len(runs), len(steps))
	}
	r := runs[0]
	if telemetrytest.Attr(r, "junction.workflow") != "onboard" || telemetrytest.Attr(r, "junction.run_id") != run.ID ||
		telemetrytest.Attr(r, "junction.status") != "completed" {
		t.Errorf("run attributes %v", r.Attributes)
	}
	for i, want := range []string{"check", "welcome"} {
		st := steps[i]
		if !telemetrytest.ChildOf(st, r) || telemetrytest.Attr(st, "junction.step") != want || telemetrytest.Attr(st, "junction.status") != "completed" {
			t.Errorf("step span %d: child of run %v, attributes %v", i, telemetrytest.ChildOf(st, r), st.Attributes)
		}
	}
	caller.mu.Lock()
	defer caller.mu.Unlock()
	if caller.spans["Identity.verify"].SpanID() != steps[0].SpanContext.SpanID() {
		t.Error("the step's call did not run under the step's span")
	}
	for _, sp := range spans.Ended() {
		for _, kv := range sp.Attributes {
			if v := kv.Value.String(); v == "123-45-6789" || v == "a@example.com" {
				t.Errorf("span %s carries input %s=%q", sp.Name, kv.Key, v)
			}
		}
	}
}
