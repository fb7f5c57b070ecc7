package integration

import (
	"context"
	"errors"
	"time"

	"github.com/junctionhq/junction/internal/policy/retry"
)

// retryableStatuses are retried by default (B5).
var retryableStatuses = []int{429, 502, 503, 504}

// retryStage makes the attempts of one logical call, with back-off and Retry-After
// (B5). It is the joint between the call and its attempts: everything inside it (rate
// limit, breaker, timeout, credentials) runs once per attempt, because every attempt is
// a request the upstream sees; everything outside it judges the call as a whole. It
// counts the requests sent, for X-Junction-Attempts. A POST or PATCH is retried only
// with an idempotency key, which the idempotency stage, outside, has set by now.
type retryStage struct {
	c      *client
	op     *operation
	policy retry.Policy
}

func (s *retryStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		policy := s.policy
		// A websocket message has no method to judge it by nor a header for a key: the
		// integration's retry, when it declares one, is the permission to send it again.
		if !s.op.socket && !retry.MethodRetryable(x.method, x.idempotent) {
			policy = retry.Policy{} // no retries at all (an explicit retry_delays list included)
		}
		clk := s.c.env.clock
		classify := func(res *Result, err error) (bool, time.Duration) {
			if err != nil {
				if e, ok := errors.AsType[*Error](err); ok && e.Kind != KindTimeout && e.Kind != KindUnreachable {
					return false, 0 // circuit open, rate limited, credentials: retrying changes nothing
				}
				if s.op.socket {
					return ctx.Err() == nil, 0 // a timeout or a lost connection
				}
				return ctx.Err() == nil && retry.Retryable(retry.Outcome{Err: errors.Unwrap(err)}, retryableStatuses), 0
			}
			if !retry.Retryable(retry.Outcome{Status: res.Status}, retryableStatuses) {
				return false, 0
			}
			after, _ := retry.ParseRetryAfter(res.Header.Get("Retry-After"), clk.Now())
			return true, after
		}
		// x.sent counts the requests sent, not the tries: a try stopped by the rate limit
		// or an open circuit sent nothing, and X-Junction-Attempts says what the upstream
		// saw.
		res, _, err := retry.Do(ctx, clk, policy, classify, func(ctx context.Context, n int) (*Result, error) {
			x.attempt = n // the client span says which attempt sent its request
			return next(ctx, x)
		})
		attempts := x.sent
		if attempts > 1 {
			s.op.metrics.addRetries(attempts - 1)
		}
		if e, ok := errorOf(err); ok {
			e.Attempts = attempts
			return nil, err
		}
		if err != nil {
			// The caller's deadline passed between attempts (while backing off).
			return nil, &Error{Kind: KindTimeout, Integration: s.c.name, Operation: s.op.name, Detail: "the call's deadline passed", Err: err, Attempts: attempts}
		}
		res.Attempts = attempts
		return res, nil
	}
}
