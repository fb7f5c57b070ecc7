package flow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/connector"
	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
)

// A message is a "flow.message" span (here the child of the traceparent its source
// brought) with a "flow.step" span per step run and a "flow.sink" span per write; an
// enrich step's call runs under its step's span.
func TestTracingFlowMessage(t *testing.T) {
	spans := telemetrytest.Trace(t)
	h := newHarness(t, `
integration Customers { base_url: "http://127.0.0.1:1"
    operation get { method: GET  path: "/customers/{id}" } }
flow f {
    source: in
    step shape { transform: { customer: "$.customer" } }
    step customer { enrich: Customers.get  params: { id: "$.customer" }  as: "details" }
    sink out { connector: a }
    monitoring { tracing: true }
}`)
	var mu sync.Mutex
	var callSpan trace.SpanContext
	h.calls.callCtx = func(ctx context.Context) {
		mu.Lock()
		callSpan = trace.SpanContextFromContext(ctx)
		mu.Unlock()
	}
	h.calls.answer = func(string, string, map[string]any) (int, []byte, error) { return 200, []byte(`{"name":"Ada"}`), nil }
	const remote = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	h.src.Put(connector.Message{Body: []byte(`{"customer":"c1","card":"4242"}`), Headers: map[string]string{"traceparent": remote}, Time: time.Now()})
	h.settled(1)
	h.waitFor("the message span", func() bool { return len(spans.Named("flow.message")) == 1 })

	msg := spans.Named("flow.message")[0]
	if msg.SpanContext.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || msg.Parent.SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("message span is not the child of the incoming traceparent: trace %s parent %s", msg.SpanContext.TraceID(), msg.Parent.SpanID())
	}
	if telemetrytest.Attr(msg, "junction.flow") != "f" || telemetrytest.Attr(msg, "junction.outcome") != "delivered" {
		t.Errorf("message attributes %v", msg.Attributes)
	}
	steps := spans.Named("flow.step")
	if len(steps) != 2 || telemetrytest.Attr(steps[0], "junction.step") != "shape" || telemetrytest.Attr(steps[1], "junction.step") != "customer" {
		t.Fatalf("step spans %v", steps)
	}
	for _, st := range steps {
		if !telemetrytest.ChildOf(st, msg) {
			t.Errorf("step %s is not a child of the message", telemetrytest.Attr(st, "junction.step"))
		}
	}
	mu.Lock()
	if callSpan.SpanID() != steps[1].SpanContext.SpanID() {
		t.Errorf("the enrich call ran under span %s, want the step's %s", callSpan.SpanID(), steps[1].SpanContext.SpanID())
	}
	mu.Unlock()
	sinks := spans.Named("flow.sink")
	if len(sinks) != 1 || !telemetrytest.ChildOf(sinks[0], msg) || telemetrytest.Attr(sinks[0], "junction.sink") != "out" {
		t.Fatalf("sink spans %v", sinks)
	}
	for _, sp := range spans.Ended() {
		for _, kv := range sp.Attributes {
			if v := kv.Value.String(); v == "4242" || v == "c1" {
				t.Errorf("span %s carries message content %s=%q", sp.Name, kv.Key, v)
			}
		}
	}
}

// `tracing: false` keeps a flow's messages out of the traces, and the calls its steps
// make too (they follow the message's decision).
func TestTracingFlowOff(t *testing.T) {
	spans := telemetrytest.Trace(t)
	h := newHarness(t, `
flow quiet { source: in  step shape { transform: { x: "$.x" } }  sink out { connector: a }
    monitoring { tracing: false } }`)
	h.put(`{"x":1}`, `{"x":2}`)
	h.settled(2)
	h.stop()
	if got := spans.Ended(); len(got) != 0 {
		t.Errorf("%d spans recorded for a flow with tracing: false, first %s", len(got), got[0].Name)
	}
}
