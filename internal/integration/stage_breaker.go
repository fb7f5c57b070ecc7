package integration

import (
	"context"
	"errors"

	"github.com/junctionhq/junction/internal/policy/breaker"
)

// breakerStage asks the circuit breaker (and its bulkhead) for each attempt and reports
// the attempt's outcome to it: a connection error, a timeout or a 5xx counts as a
// failure. It sits inside the retry and the rate limit, so it judges every request the
// upstream sees and none that was never sent, and outside the timeout, so an attempt
// that ran out of time is a failure it counts.
type breakerStage struct {
	c       *client
	op      *operation
	breaker *breaker.Breaker
}

// newBreakerStage: only with a `circuit_breaker`.
func newBreakerStage(c *client, op *operation) stage {
	if c.st.breaker == nil {
		return nil
	}
	return &breakerStage{c: c, op: op, breaker: c.st.breaker}
}

func (s *breakerStage) wrap(next handler) handler {
	return func(ctx context.Context, x *exchange) (*Result, error) {
		done, err := s.breaker.Allow()
		if err != nil {
			if open, ok := errors.AsType[*breaker.OpenError](err); ok {
				eventBreakerOpen.add(ctx)
				return nil, &Error{Kind: KindCircuitOpen, Integration: s.c.name, Operation: s.op.name, Detail: "circuit is open", RetryAfter: open.RetryAfter}
			}
			eventBulkheadFull.add(ctx)
			return nil, &Error{Kind: KindBulkheadFull, Integration: s.c.name, Operation: s.op.name, Detail: "too many concurrent calls (max_concurrent)"}
		}
		eventBreakerAllowed.add(ctx)
		res, err := next(ctx, x)
		done(err == nil && res.Status < 500)
		return res, err
	}
}
