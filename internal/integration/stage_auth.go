package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/credential"
	"github.com/junctionhq/junction/internal/redact"
	"github.com/junctionhq/junction/internal/telemetry"
)

// authStage is the innermost stage: it applies the integration's credentials (resolved
// when the runtime was built) to the attempt, sends it and reads the bounded answer. It
// is last because credentials are per attempt (signatures cover the attempt's time,
// an OAuth2 token may be refreshed between attempts) and must never reach what the
// stages outside see: the cache key, the logs. A 401 refreshes OAuth2 credentials and
// sends once more, as part of the same attempt. The stage that puts the secrets on the
// request also takes them off a failure answer: some APIs quote the credential they
// refused.
type authStage struct {
	c    *client
	op   *operation
	cred credential.Applier
}

func (s *authStage) wrap(handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		// One attempt counts once, even when a 401 makes it send again.
		counted := false
		res, hreq, err := s.send(ctx, x, &counted)
		if err == nil && res.Status == http.StatusUnauthorized && s.cred.Rejected(ctx, hreq) {
			res, _, err = s.send(ctx, x, &counted) // fresh credentials, once
		}
		if err == nil && res.Status >= 400 {
			res.Body = s.c.scrubBody(res.Body)
		}
		return res, err
	}
}

// send makes one HTTP request with credentials and reads the bounded response, counting
// it in x.sent just before it leaves (once per attempt).
func (s *authStage) send(ctx context.Context, x *exchange, counted *bool) (*Result, *http.Request, error) {
	hreq, err := http.NewRequestWithContext(ctx, x.method, x.url.String(), bytes.NewReader(x.body))
	if err != nil {
		return nil, nil, &Error{Kind: KindInvalidParams, Integration: s.c.name, Operation: s.op.name, Detail: err.Error()}
	}
	hreq.Header = x.header.Clone()
	if len(x.body) == 0 {
		hreq.Body, hreq.GetBody, hreq.ContentLength = http.NoBody, nil, 0
	}
	// The trace context goes on before the credentials, so a signature that covers
	// every header covers it too.
	span := telemetry.NoSpan()
	status := 0 // the upstream's answer, for the span
	if telemetry.TracingEnabled() {
		ctx, span = telemetry.StartSpan(ctx, tracerScope, clientSpanName(x.method), trace.SpanKindClient)
		// The attributes are set together, at the end: each call grows the span's list.
		defer func() {
			attrs := []attribute.KeyValue{attribute.String("http.request.method", x.method), attribute.String("server.address", x.url.Hostname()),
				attrIntegration.String(s.c.name), attrOperation.String(s.op.name), attrAttempt.Int(max(x.attempt, 1)), attrStatus.Int(status)}
			if status == 0 {
				attrs = attrs[:len(attrs)-1]
			}
			span.SetAttributes(attrs...)
			span.End()
		}()
		telemetry.InjectTraceContext(ctx, hreq.Header)
	}
	if err := s.cred.Apply(ctx, hreq, x.body); err != nil {
		return nil, hreq, &Error{Kind: KindUnreachable, Integration: s.c.name, Operation: s.op.name, Detail: "could not obtain credentials", Err: err}
	}
	if !*counted {
		*counted = true
		x.sent++
	}
	resp, err := s.c.st.calls.Do(hreq)
	if err != nil {
		telemetry.SpanError(span, "unreachable")
		// The client's error quotes the URL, with an api_key in its query.
		return nil, hreq, redact.Error(err)
	}
	if span.IsRecording() {
		status = resp.StatusCode
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests { // what the retry stage retries
			telemetry.SpanError(span, "upstream_error")
		}
	}
	defer resp.Body.Close()
	limit := s.c.env.maxResponseBytes
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, hreq, redact.Error(err)
	}
	if int64(len(body)) > limit {
		return nil, hreq, &Error{Kind: KindUpstreamInvalid, Integration: s.c.name, Operation: s.op.name, Detail: fmt.Sprintf("response larger than %d bytes", limit)}
	}
	return &Result{Status: resp.StatusCode, Header: resp.Header, Body: body}, hreq, nil
}
