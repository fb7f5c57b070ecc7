package integration

import (
	"context"
	"errors"
	"time"

	"github.com/junctionhq/junction/internal/config"
	"github.com/junctionhq/junction/internal/policy/ratelimit"
)

// rateLimitStage admits each attempt through the integration's rate limit: it waits for
// a slot at most max_wait (default: the attempt's timeout) and only while the call's
// deadline allows, else refuses with rate-limited. It sits inside the retry, because
// every attempt is a request the upstream counts, and outside the breaker, so that a
// call refused here neither takes a bulkhead slot nor counts for the circuit. After the
// answer it reads the upstream's quota headers (header, Retry-After) to pause the limit.
type rateLimitStage struct {
	c       *client
	op      *operation
	limiter ratelimit.Limiter
	maxWait time.Duration
	header  string // response header announcing the remaining quota; "" for none
}

// newRateLimitStage: only with a `rate_limit`.
func newRateLimitStage(c *client, in *config.Integration, op *operation) stage {
	if c.st.limiter == nil {
		return nil
	}
	s := &rateLimitStage{c: c, op: op, limiter: c.st.limiter, maxWait: in.RateLimit.MaxWait, header: in.RateLimit.Header}
	if s.maxWait <= 0 {
		s.maxWait = op.timeout
	}
	return s
}

func (s *rateLimitStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		if err := s.admit(ctx); err != nil {
			eventRateLimitRefused.add(ctx)
			if limited, ok := errors.AsType[*ratelimit.LimitedError](err); ok {
				s.c.env.metrics.rateLimited.WithLabelValues(s.c.name).Inc()
				return nil, &Error{Kind: KindRateLimited, Integration: s.c.name, Operation: s.op.name, Detail: "rate limit reached", RetryAfter: limited.RetryAfter}
			}
			return nil, &Error{Kind: KindTimeout, Integration: s.c.name, Operation: s.op.name, Detail: "waiting for the rate limit", Err: err}
		}
		res, err := next(ctx, x)
		if err == nil {
			if _, err := ratelimit.ObserveHeaders(ctx, s.limiter, s.c.env.clock, res.Status, res.Header, s.header); err != nil {
				s.c.env.logger.Warn("rate limit update failed", "integration", s.c.name, "error", err)
			}
		}
		return res, err
	}
}

// admit takes a slot, waiting if it must; a call that waited and then went is counted.
func (s *rateLimitStage) admit(ctx context.Context) error {
	wait, err := s.limiter.Take(ctx)
	if err != nil || wait == 0 {
		return err
	}
	eventRateLimitWait.add(ctx)
	if err := ratelimit.Wait(ctx, s.limiter, s.c.env.clock, s.maxWait); err != nil {
		return err
	}
	s.c.env.metrics.rateLimitWaits.WithLabelValues(s.c.name).Inc()
	return nil
}
