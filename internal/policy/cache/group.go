package cache

import (
	"context"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultGroupTimeout bounds a shared call when a Group has no Timeout.
const DefaultGroupTimeout = 30 * time.Second

// Group collapses concurrent misses: while fn runs for a key, further callers of Do for
// that key wait for its result instead of calling the upstream again. The zero value is
// ready to use, with DefaultGroupTimeout.
type Group struct {
	// Timeout bounds each shared call. The call cannot inherit a caller's deadline,
	// because it serves callers with different deadlines and must survive any one of them
	// giving up; without a bound of its own an upstream that never answers would keep it,
	// and its waiters, forever. It is wall-clock time (a context deadline), not the
	// injected clock: it is a safety limit, not a policy anyone tests to the millisecond.
	Timeout time.Duration

	// OnJoin, when set, is called each time a caller has joined the call for its key (the
	// caller that starts it included), just before it waits: a test can then know every
	// caller is waiting before it lets fn return, instead of guessing with a sleep. Set it
	// before the Group is used.
	OnJoin func()

	sf singleflight.Group
}

// NewGroup returns a Group whose shared calls are bounded by timeout (0: the default).
func NewGroup(timeout time.Duration) *Group { return &Group{Timeout: timeout} }

// Do runs fn once for all concurrent callers of key and returns its result to each of
// them; shared reports whether the result went to more than one caller (it is true for
// the caller that started the call too). Each caller gets its own copy of the entry.
//
// fn's context carries the values of the caller that started the call, is not cancelled
// when that or any other caller's context ends, and expires after the Group's Timeout.
// A caller whose ctx ends stops waiting and gets ctx.Err(); the call goes on for the
// others (and, if none are left, until fn returns, so fn may still fill the cache).
func (g *Group) Do(ctx context.Context, key string, fn func(ctx context.Context) (Entry, error)) (Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, false, err
	}
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = DefaultGroupTimeout
	}
	ch := g.sf.DoChan(key, func() (any, error) {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(callCtx)
	})
	if g.OnJoin != nil {
		g.OnJoin()
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return Entry{}, r.Shared, r.Err
		}
		e := r.Val.(Entry)
		if r.Shared {
			// Every waiter got the same Entry; copies keep one caller's changes to the
			// headers or body away from the others.
			e = e.clone()
		}
		return e, r.Shared, nil
	case <-ctx.Done():
		return Entry{}, false, ctx.Err()
	}
}
