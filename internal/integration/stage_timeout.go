package integration

import (
	"context"
	"fmt"
)

// timeoutStage gives each attempt its own deadline (the operation's timeout, else the
// integration's, else TimeoutDefault) and says which deadline ended a failed attempt:
// its own (retryable) or the call's. It sits right around the request, inside the rate
// limit (a wait for a slot is bounded by max_wait and the call's deadline, not by the
// attempt's) and the breaker (which counts a timed-out attempt as a failure).
type timeoutStage struct {
	c  *client
	op *operation
}

func (s *timeoutStage) wrap(next handler) handler {
	timeout := s.op.timeout
	return func(ctx context.Context, x *exchange) (*Result, error) {
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		res, err := next(actx, x)
		if err == nil {
			return res, nil
		}
		fail := func(kind Kind, detail string) (*Result, error) {
			return nil, &Error{Kind: kind, Integration: s.c.name, Operation: s.op.name, Detail: detail, Err: err}
		}
		switch {
		case ctx.Err() == nil && actx.Err() != nil:
			return fail(KindTimeout, fmt.Sprintf("no answer within %v", timeout))
		case ctx.Err() != nil:
			return fail(KindTimeout, "the call's deadline passed")
		}
		if _, ok := errorOf(err); ok {
			return nil, err
		}
		return fail(KindUnreachable, "upstream unreachable")
	}
}
