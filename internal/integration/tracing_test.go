package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/telemetry"
	"github.com/junctionhq/junction/internal/telemetry/telemetrytest"
)

// A call retried once is one "integration.call" span with two HTTP client children,
// one per attempt (junction.attempt 1 and 2), whose traceparent the upstream received;
// the breaker's decisions are events on the call; the call span is a child of the
// caller's span. No attribute carries the token or the query.
func TestTracingCallWithRetry(t *testing.T) {
	spans := telemetrytest.Trace(t)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		jsonOK(w, `{"ok":true}`)
	})
	h := newHarness(t, `integration Pay { base_url: "UPSTREAM" auth: bearer(env(PAY_TOKEN)) retry: 2 times
		circuit_breaker: { threshold: 5 failures in 1m, reset_after: 30s }
		operation get { method: GET path: "/charges/{id}" query: { expand: string } } }`, up.URL,
		map[string]string{"PAY_TOKEN": "tok-secret-123"}, withClock(clock.NewAutoFake(time.Now())))

	ctx, parent := telemetry.StartSpan(context.Background(), "test", "caller", trace.SpanKindServer)
	res, err := h.rt.Call(ctx, "Pay", "get", map[string]any{"id": "ch_1", "expand": "all"}, CallOptions{})
	parent.End()
	if err != nil || res.Status != 200 || res.Attempts != 2 {
		t.Fatalf("call: %v %+v", err, res)
	}

	callers := spans.Named("caller")
	calls := spans.Named("integration.call")
	sends := spans.Named("HTTP GET")
	if len(callers) != 1 || len(calls) != 1 || len(sends) != 2 || len(spans.Ended()) != 4 {
		t.Fatalf("spans: %d caller, %d call, %d HTTP GET of %d; want 1, 1, 2 of 4", len(callers), len(calls), len(sends), len(spans.Ended()))
	}
	call := calls[0]
	if !telemetrytest.ChildOf(call, callers[0]) {
		t.Error("integration.call is not a child of the caller's span")
	}
	if telemetrytest.Attr(call, "junction.integration") != "Pay" || telemetrytest.Attr(call, "junction.operation") != "get" ||
		telemetrytest.Attr(call, "http.response.status_code") != "200" {
		t.Errorf("call attributes: %v", call.Attributes)
	}
	requests := up.all()
	for i, send := range sends {
		if !telemetrytest.ChildOf(send, call) || send.SpanKind != trace.SpanKindClient {
			t.Errorf("HTTP span %d is not a client child of the call", i+1)
		}
		if got := telemetrytest.Attr(send, "junction.attempt"); got != []string{"1", "2"}[i] {
			t.Errorf("HTTP span %d: junction.attempt = %q", i+1, got)
		}
		want := "00-" + send.SpanContext.TraceID().String() + "-" + send.SpanContext.SpanID().String() + "-01"
		if got := requests[i].Header.Get("Traceparent"); got != want {
			t.Errorf("request %d traceparent = %q, want %q", i+1, got, want)
		}
	}
	if sends[0].Status.Code != 1 /* codes.Error */ || sends[1].Status.Code == 1 {
		t.Errorf("HTTP span statuses: %v, %v", sends[0].Status, sends[1].Status)
	}
	if up.last().RawQuery != "expand=all" {
		t.Fatalf("query %q: the test means to check that the query stays out of spans", up.last().RawQuery)
	}
	if n := countEvents(call, "circuit_breaker"); n != 2 {
		t.Errorf("%d circuit_breaker events on the call, want one per attempt", n)
	}
	assertNoSecret(t, spans.Ended(), "tok-secret-123", "expand=", "/charges/ch_1")
}

func countEvents(sp tracetest.SpanStub, name string) int {
	n := 0
	for _, e := range sp.Events {
		if e.Name == name {
			n++
		}
	}
	return n
}

// assertNoSecret fails if any span's name, attribute or event attribute contains one
// of the given strings.
func assertNoSecret(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, sp := range spans {
		texts := []string{sp.Name}
		for _, kv := range sp.Attributes {
			texts = append(texts, kv.Value.String())
		}
		for _, e := range sp.Events {
			for _, kv := range e.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		texts = append(texts, sp.Status.Description)
		for _, text := range texts {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("span %s carries %q: %q", sp.Name, s, text)
				}
			}
		}
	}
}

// While tracing is off, a call sends no traceparent.
func TestTracingOffSendsNoTraceparent(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, `{}`) })
	h := newHarness(t, `integration A { base_url: "UPSTREAM" operation get { method: GET path: "/x" } }`, up.URL, nil)
	h.mustCall(t, "A", "get", nil)
	if got := up.last().Header.Get("Traceparent"); got != "" {
		t.Errorf("traceparent %q sent with tracing off", got)
	}
}
