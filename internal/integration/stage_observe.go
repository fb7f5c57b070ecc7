package integration

import (
	"context"
	"fmt"
	"time"
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
		res, err := next(ctx, x)
		if err != nil {
			err = s.c.scrub(err)
		}
		s.observe(res, err, start, clk.Now().Sub(start), x.sent)
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
