package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// Local is an in-process sliding-log limiter: a ring buffer of the times of the last
// Requests admitted calls, so Take is O(1) and memory is fixed at Requests timestamps.
type Local struct {
	window time.Duration
	clk    clock.Clock

	mu     sync.Mutex
	log    []time.Time // ring of admission times; len grows to cap (Requests) and stays
	oldest int         // index of the oldest entry once the ring is full
	pause  time.Time   // nothing is admitted before this
}

// NewLocal returns a limiter for cfg that lives in this process only.
func NewLocal(cfg Config) (*Local, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Local{
		window: cfg.Window,
		clk:    cfg.Clock,
		log:    make([]time.Time, 0, cfg.Requests),
	}, nil
}

// Take admits one call now (0, nil) or returns how long until one may be admitted.
func (l *Local) Take(context.Context) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	var wait time.Duration
	if now.Before(l.pause) {
		wait = l.pause.Sub(now)
	}
	full := len(l.log) == cap(l.log)
	if full {
		// The oldest of the last N admissions must have left (now-W, now] for an N+1th.
		if w := l.log[l.oldest].Add(l.window).Sub(now); w > wait {
			wait = w
		}
	}
	if wait > 0 {
		return wait, nil
	}
	if full {
		l.log[l.oldest] = now
		l.oldest = (l.oldest + 1) % len(l.log)
	} else {
		l.log = append(l.log, now)
	}
	return 0, nil
}

// PauseUntil admits nothing before t; an earlier t than the current pause's end is ignored.
func (l *Local) PauseUntil(_ context.Context, t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.pause) {
		l.pause = t
	}
	return nil
}

var _ Limiter = (*Local)(nil)
