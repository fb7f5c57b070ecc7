package retry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// Do runs attempt up to 1+p.Retries() times, sleeping on c between tries. It is the one
// retry loop of the runtime: integration calls and flow steps use it, and webhook
// deliveries, which wait in the store rather than in a goroutine, take their delays from
// the same Schedule (Policy.DelayBefore). n is 1 for the
// first attempt. After each attempt, retryable says whether to try again and how long
// the response asked to wait (Retry-After, 0 if none); before the retry Do waits
// max(schedule delay, retryAfter).
//
// Do returns the last attempt's result and error, and the number of attempts made, when
// the attempt succeeds or is not retryable, when the retries are used up, and when the
// next wait would end after ctx's deadline (a wait that cannot lead to a usable answer is
// not worth starting). When ctx is done before a retry or during a wait, Do stops at once
// and returns the last result with an error wrapping ctx.Err() and the last attempt's
// error, so that both errors.Is(err, context.Canceled) and the upstream cause are visible.
// A result is returned alongside that error so the caller can release it (for example
// close a response body).
func Do[T any](ctx context.Context, c clock.Clock, p Policy, retryable func(T, error) (retry bool, retryAfter time.Duration), attempt func(ctx context.Context, n int) (T, error)) (T, int, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, 0, err
	}
	// The schedule is made at the first retry: most calls succeed at once, and Do is on
	// the path of every call and every flow step.
	var sched *Schedule
	for n := 1; ; n++ {
		res, err := attempt(ctx, n)
		retry, retryAfter := retryable(res, err)
		if !retry {
			return res, n, err
		}
		// The caller gave up: the attempt's failure may be that very cancellation, which
		// Retryable cannot tell from a per-attempt timeout.
		if ctx.Err() != nil {
			return res, n, stopped(ctx, err)
		}
		if sched == nil {
			sched = p.Schedule()
		}
		delay, ok := sched.Next()
		if !ok {
			return res, n, err
		}
		wait := max(delay, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && c.Now().Add(wait).After(deadline) {
			return res, n, err
		}
		if serr := c.Sleep(ctx, wait); serr != nil {
			return res, n, stopped(ctx, err)
		}
	}
}

// stopped is the error Do returns when ctx ends the retries: ctx's error, and the last
// attempt's error when that says more.
func stopped(ctx context.Context, last error) error {
	cerr := ctx.Err()
	if last == nil || errors.Is(last, cerr) {
		return cmp.Or(last, cerr)
	}
	return fmt.Errorf("retry: %w (last attempt: %w)", cerr, last)
}
