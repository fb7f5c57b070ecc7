package telemetrytest

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/junctionhq/junction/internal/telemetry"
)

// Spans collects the spans ended while the test runs, synchronously: a span is in
// Ended() as soon as End returns.
type Spans struct{ exp *tracetest.InMemoryExporter }

// Trace turns tracing on for the rest of t and returns what it records.
func Trace(t testing.TB) *Spans {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	telemetry.InstallTracing(sdktrace.NewSimpleSpanProcessor(exp), resource.Empty())
	t.Cleanup(func() {
		if err := telemetry.StopTracing(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &Spans{exp: exp}
}

// Ended returns the spans ended so far, in the order they ended.
func (s *Spans) Ended() tracetest.SpanStubs { return s.exp.GetSpans() }

// Named returns the ended spans called name.
func (s *Spans) Named(name string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, sp := range s.exp.GetSpans() {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

// Attr returns the value of a span's attribute as a string ("" when it has none).
func Attr(sp tracetest.SpanStub, key string) string {
	i := slices.IndexFunc(sp.Attributes, func(kv attribute.KeyValue) bool { return string(kv.Key) == key })
	if i < 0 {
		return ""
	}
	return sp.Attributes[i].Value.String()
}

// ChildOf reports whether child's parent is parent, in the same trace.
func ChildOf(child, parent tracetest.SpanStub) bool {
	return child.Parent.SpanID() == parent.SpanContext.SpanID() && child.SpanContext.TraceID() == parent.SpanContext.TraceID()
}
