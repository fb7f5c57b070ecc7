package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/telemetry"
)

// tracerScope names the instrumentation scope of the API's spans.
const tracerScope = "junction/server"

// startSpan starts the request's server span, named after its route pattern (never
// its path, which may carry ids, nor its query), as a child of the caller's span when
// the request brings a traceparent. While tracing is off it is the request's context
// and a no-op span.
func (s *Server) startSpan(r *http.Request, route string) (context.Context, trace.Span) {
	if !telemetry.TracingEnabled() {
		return r.Context(), telemetry.NoSpan()
	}
	if route == "" {
		route = unmatchedRoute
	}
	ctx := telemetry.ExtractTraceContext(r.Context(), r.Header)
	return telemetry.StartSpan(ctx, tracerScope, route, trace.SpanKindServer)
}

// endSpan records the request's method, route and answer's status on its span and ends
// it. The attributes are set together, at the end: each call grows the span's list.
func endSpan(span trace.Span, method, route string, status int) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status))
	if status >= 500 {
		telemetry.SpanError(span, http.StatusText(status))
	}
	span.End()
}
