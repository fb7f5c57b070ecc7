// Package clock gives policies that wait (retry, circuit breaker, rate limit, cache
// expiry) an injectable notion of time, so tests are fast and exact: production uses
// Real, tests use a Fake whose time moves only when the test, or a waiting caller, says so.
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, returning ctx.Err() in the latter case.
	// A non-positive d returns at once (nil unless ctx is already done).
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep waits on a timer or the context.
func (Real) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Fake is a manual clock for tests. Sleepers block until Advance moves the time past
// their deadline; with AutoAdvance set, Sleep instead moves the time forward itself and
// returns at once, which suits single-goroutine tests of retry schedules.
type Fake struct {
	mu          sync.Mutex
	now         time.Time
	autoAdvance bool
	sleepers    []*sleeper
	slept       []time.Duration
}

type sleeper struct {
	until time.Time
	done  chan struct{}
}

// NewFake returns a Fake set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// NewAutoFake returns a Fake whose Sleep advances the time by the duration and returns.
func NewAutoFake(start time.Time) *Fake { return &Fake{now: start, autoAdvance: true} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Sleep records d and waits until the fake time reaches now+d (or advances it, with
// AutoAdvance), or ctx is done.
func (f *Fake) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	f.slept = append(f.slept, d)
	if d <= 0 {
		f.mu.Unlock()
		return nil
	}
	if f.autoAdvance {
		f.now = f.now.Add(d)
		f.mu.Unlock()
		return nil
	}
	s := &sleeper{until: f.now.Add(d), done: make(chan struct{})}
	f.sleepers = append(f.sleepers, s)
	f.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		for i, x := range f.sleepers {
			if x == s {
				f.sleepers = append(f.sleepers[:i], f.sleepers[i+1:]...)
				break
			}
		}
		f.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the time forward by d and wakes the sleepers whose deadline has passed,
// earliest first.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	sort.Slice(f.sleepers, func(i, j int) bool { return f.sleepers[i].until.Before(f.sleepers[j].until) })
	keep := f.sleepers[:0]
	for _, s := range f.sleepers {
		if !s.until.After(f.now) {
			close(s.done)
			continue
		}
		keep = append(keep, s)
	}
	f.sleepers = keep
	f.mu.Unlock()
}

// Sleepers reports how many goroutines are blocked in Sleep, so a test can wait until a
// caller is waiting before it advances the time.
func (f *Fake) Sleepers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sleepers)
}

// Slept returns every duration passed to Sleep so far, in order.
func (f *Fake) Slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

var (
	_ Clock = Real{}
	_ Clock = (*Fake)(nil)
)
