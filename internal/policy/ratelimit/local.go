package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// exactLimit is the largest Requests for which Local keeps the exact sliding log, one
// entry per admission still in the window: at most 4096 × 16 B = 64 KiB, grown only as
// calls come. That is exact for the limits upstream APIs publish (rarely more than a few
// thousand per window) while costing no more than a few bucket rings; above it the exact
// log would grow with Requests (100 M would be 1.6 GB for the GC to manage), so the
// bucketed window takes over.
const exactLimit = 4096

// buckets is how many buckets the bucketed window divides Window into: refusals come at
// most Window/1024 (0.1 %) early, and the ring holds at most buckets+1 entries (16 KiB)
// whatever Requests is.
const buckets = 1024

// entry is n admissions that count as made at end, in nanoseconds since Local.base.
type entry struct {
	end int64
	n   int
}

// Local is an in-process sliding-window limiter (see the package doc for the two schemes):
// a ring of entries, oldest first, each one instant (exact log) or one bucket (bucketed
// window) with its admission count. Take is O(1) amortised and never allocates once the
// ring has grown to what the traffic needs, at most min(Requests, buckets+1) entries.
type Local struct {
	limit      int
	window     int64 // ns
	width      int64 // bucket width in ns; 1 for the exact log, where each instant is a bucket
	maxEntries int   // the ring never needs more entries than this (see grow)
	clk        clock.Clock
	// Times are kept as int64 nanoseconds since base rather than as time.Time: no pointers
	// for the GC to scan, and, since base comes from the same clock, Sub still uses the
	// monotonic reading that clock.Real's times carry.
	base time.Time

	mu    sync.Mutex
	ring  []entry // circular, grown lazily up to maxEntries
	head  int     // index of the oldest entry
	size  int     // entries in use
	total int     // admissions in the ring
	pause time.Time
}

// NewLocal returns a limiter for cfg that lives in this process only. It allocates
// nothing in proportion to cfg.Requests.
func NewLocal(cfg Config) (*Local, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Local{
		limit:      cfg.Requests,
		window:     int64(cfg.Window),
		width:      1,
		maxEntries: cfg.Requests,
		clk:        cfg.Clock,
		base:       cfg.Clock.Now(),
	}
	if cfg.Requests > exactLimit {
		l.width = ceilDiv(l.window, buckets)
		l.maxEntries = buckets + 1
	}
	return l, nil
}

// Take admits one call now (0, nil) or returns how long until one may be admitted.
func (l *Local) Take(context.Context) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clk.Now()
	t := int64(now.Sub(l.base))
	// An entry whose admissions count as made exactly one window ago has left (now-W, now].
	for l.size > 0 && t-l.ring[l.head].end >= l.window {
		l.total -= l.ring[l.head].n
		l.head = (l.head + 1) % len(l.ring)
		l.size--
	}
	var wait time.Duration
	if now.Before(l.pause) {
		wait = l.pause.Sub(now)
	}
	if l.total >= l.limit {
		// total never exceeds limit, so one more fits once the oldest entry has left.
		if w := timeLeft(l.window, t-l.ring[l.head].end); w > wait {
			wait = w
		}
	}
	if wait > 0 {
		return wait, nil
	}
	l.admit(t)
	return 0, nil
}

// admit records an admission at t: at t itself in the exact log, at the last instant of
// t's bucket in the bucketed window, so that it is never taken to leave the window before
// it really does.
func (l *Local) admit(t int64) {
	end := t
	if l.width > 1 {
		end = t - floorMod(t, l.width) + l.width - 1
	}
	l.total++
	if l.size > 0 {
		// The same instant or bucket as the newest entry joins it. So does an earlier one,
		// which only a clock that went back can give: counting it as made later is the
		// conservative choice, and keeps the ring in time order.
		if last := &l.ring[(l.head+l.size-1)%len(l.ring)]; last.end >= end {
			last.n++
			return
		}
	}
	if l.size == len(l.ring) {
		l.grow()
	}
	l.ring[(l.head+l.size)%len(l.ring)] = entry{end: end, n: 1}
	l.size++
}

// grow doubles the ring, up to maxEntries. That bound holds because entries in the ring
// are distinct instants or buckets still in the window: in the exact log there are fewer
// than limit of them before an admission (each holds at least one and total < limit);
// in the bucketed window they and the new one lie in the buckets+1 buckets that overlap
// the window, since Window <= buckets × width.
func (l *Local) grow() {
	n := min(max(2*len(l.ring), 16), l.maxEntries)
	if n <= l.size {
		n = l.size + 1 // unreachable by the bound above, but never drop an admission
	}
	ring := make([]entry, n)
	for i := range l.size {
		ring[i] = l.ring[(l.head+i)%len(l.ring)]
	}
	l.ring, l.head = ring, 0
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

// timeLeft is how long until an entry of the given age (< window; negative only after the
// clock went back) has been in the window for a whole window, without overflowing.
func timeLeft(window, age int64) time.Duration {
	if age < 0 && window > math.MaxInt64+age {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(window - age)
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0, without overflowing.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}

// floorMod is a mod b in [0, b), also for a negative a (a clock set before base).
func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

var _ Limiter = (*Local)(nil)
