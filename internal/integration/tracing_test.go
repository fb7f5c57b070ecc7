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

// A call retried once is one "integration.call" span with two "integration.attempt"
// children, each with an HTTP client span whose traceparent the upstream received; the
// call span is a child of the caller's span. No attribute carries the token or the query.
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
	attempts := spans.Named("integration.attempt")
	sends := spans.Named("HTTP GET")
	if len(callers) != 1 || len(calls) != 1 || len(attempts) != 2 || len(sends) != 2 {
		t.Fatalf("spans: %d caller, %d call, %d attempt, %d HTTP GET; want 1, 1, 2, 2", len(callers), len(calls), len(attempts), len(sends))
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
	for i, a := range attempts {
		if !telemetrytest.ChildOf(a, call) {
			t.Errorf("attempt %d is not a child of the call", i+1)
		}
		if got := telemetrytest.Attr(a, "junction.attempt"); got != []string{"1", "2"}[i] {
			t.Errorf("attempt %d: junction.attempt = %q", i+1, got)
		}
		send := sends[i]
		if !telemetrytest.ChildOf(send, a) || send.SpanKind != trace.SpanKindClient {
			t.Errorf("HTTP span %d is not the client child of attempt %d", i+1, i+1)
		}
		want := "00-" + send.SpanContext.TraceID().String() + "-" + send.SpanContext.SpanID().String() + "-01"
		if got := requests[i].Header.Get("Traceparent"); got != want {
			t.Errorf("request %d traceparent = %q, want %q", i+1, got, want)
		}
	}
	if attempts[0].Status.Code != 1 /* codes.Error */ || attempts[1].Status.Code == 1 {
		t.Errorf("attempt statuses: %v, %v", attempts[0].Status, attempts[1].Status)
	}
	if up.last().RawQuery != "expand=all" {
		t.Fatalf("query %q: the test means to check that the query stays out of spans", up.last().RawQuery)
	}
	if !hasEvent(attempts[0], "circuit_breaker") || !hasEvent(attempts[1], "circuit_breaker") {
		t.Error("the breaker's decision is not on the attempt span")
	}
	assertNoSecret(t, spans.Ended(), "tok-secret-123", "expand=", "/charges/ch_1")
}

func hasEvent(sp tracetest.SpanStub, name string) bool {
	for _, e := range sp.Events {
		if e.Name == name {
			return true
		}
	}
	return false
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
