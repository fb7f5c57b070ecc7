package integration

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/junctionhq/junction/internal/telemetry"
)

// observeStage is the outermost stage: it gives the call its deadline and records the
// whole call (retries, waits, fallbacks included) in health and metrics, because that
// is what the caller lived through. Its failure text is scrubbed of the integration's
// secrets here, once, for every reply, log line and health entry that shows it.
type observeStage struct {
	c  *client
	op *operation
}

func (s *observeStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		clk := s.c.env.clock
		start := clk.Now()
		ctx, cancel := deadline(ctx)
		defer cancel()
		ctx, span := telemetry.StartSpan(ctx, tracerScope, "integration.call", trace.SpanKindInternal)
		if span.IsRecording() {
			span.SetAttributes(attrIntegration.String(s.c.name), attrOperation.String(s.op.name))
		}
		res, err := next(ctx, x)
		if err != nil {
			err = s.c.scrub(err)
		}
		s.observe(res, err, start, clk.Now().Sub(start), x.sent)
		if span.IsRecording() {
			endCallSpan(span, res, err)
		}
		if res != nil {
			if res.Cache == "" {
				res.Cache = CacheBypass // no cache stage looked at it
			}
			res.Circuit = s.c.circuitState()
		}
		return res, err
	}
}

// observe records a finished call in health, metrics and the usage reports.
func (s *observeStage) observe(res *Result, err error, start time.Time, elapsed time.Duration, sent int) {
	m := &s.op.metrics
	var outcome string
	ok := true
	switch kind := KindOf(err); {
	case kind == KindInvalidParams || kind == KindRateLimited:
		m.call(string(kind)).Inc()
		return // the caller's or Junction's own limit, not the upstream's health
	case err != nil:
		outcome, ok = string(kind), false
		if kind == "" {
			outcome = "error"
		}
	case res.Fallback != "":
		outcome, ok = "fallback_"+res.Fallback, false
	case res.Cache == CacheHit:
		outcome = "cache_hit"
	case s.op.success(res.Status):
		outcome = "success"
	default:
		outcome, ok = "upstream_error", res.Status < 500
	}
	m.call(outcome).Inc()
	m.observeDuration(elapsed.Seconds())
	errText := ""
	switch {
	case err != nil:
		errText = errorText(err)
	case !ok:
		errText = fmt.Sprintf("upstream answered %d", res.Status)
		if res.Fallback != "" {
			errText = "upstream failed; answered from fallback " + res.Fallback
		}
	}
	var mismatches []string
	if res != nil {
		mismatches = res.ContractMismatches
	}
	s.c.st.stats.record(start, elapsed, ok, errText, mismatches)
	s.report(start.Add(elapsed), elapsed, ok, sent)
}

// endCallSpan records the call's outcome on its span and ends it: the status the
// caller got and the error's kind, never its text (it may quote the upstream).
func endCallSpan(span trace.Span, res *Result, err error) {
	switch {
	case err != nil:
		kind := string(KindOf(err))
		if kind == "" {
			kind = "error"
		}
		telemetry.SpanError(span, kind)
	default:
		span.SetAttributes(attrStatus.Int(res.Status), attrAttempt.Int(res.Attempts), cacheAttr.String(res.Cache))
		if res.Status >= 500 {
			telemetry.SpanError(span, "upstream_error")
		}
	}
	span.End()
}

// cacheAttr is the cache outcome of a call (hit, miss, stale, bypass).
const cacheAttr = attribute.Key("junction.cache")
