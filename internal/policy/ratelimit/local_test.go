package ratelimit

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newLocal(t testing.TB, requests int, window time.Duration) (*Local, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(start)
	l, err := NewLocal(Config{Requests: requests, Window: window, Clock: fc})
	if err != nil {
		t.Fatalf("NewLocal: %v", err)
	}
	return l, fc
}

func take(t *testing.T, l Limiter) time.Duration {
	t.Helper()
	w, err := l.Take(context.Background())
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return w
}

func TestLocalBurstThenWait(t *testing.T) {
	l, fc := newLocal(t, 5, time.Minute)
	for _, c := range []struct {
		at   time.Duration // since start
		want []time.Duration
	}{
		{0, []time.Duration{0, 0, 0, 0, 0, time.Minute, time.Minute}}, // burst of N; refusals take nothing
		{10 * time.Second, []time.Duration{50 * time.Second}},         // the wait shrinks with time
		{time.Minute - time.Nanosecond, []time.Duration{1}},           // the window is (now-W, now]
		{time.Minute, []time.Duration{0, 0, 0, 0, 0, time.Minute}},    // the whole burst left at once
		{90 * time.Second, []time.Duration{30 * time.Second}},
		{2 * time.Minute, []time.Duration{0, 0, 0, 0, 0, time.Minute}},
	} {
		fc.Advance(start.Add(c.at).Sub(fc.Now()))
		for i, want := range c.want {
			if w := take(t, l); w != want {
				t.Fatalf("at +%v, call %d: wait %v, want %v", c.at, i+1, w, want)
			}
		}
	}
}

func TestLocalSpacedCalls(t *testing.T) {
	// Calls spread over the window leave one at a time: the wait is until the oldest of the
	// last N leaves, not until some fixed window resets.
	l, fc := newLocal(t, 3, 30*time.Second)
	for range 3 {
		if w := take(t, l); w != 0 {
			t.Fatalf("wait %v", w)
		}
		fc.Advance(10 * time.Second)
	}
	// Admitted at +0, +10, +20; now +30, so the first has just left: one more fits.
	if w := take(t, l); w != 0 {
		t.Fatalf("at +30s: wait %v, want 0", w)
	}
	// +10, +20, +30 fill the window; +10 leaves at +40.
	if w := take(t, l); w != 10*time.Second {
		t.Fatalf("at +30s: wait %v, want 10s", w)
	}
}

// model is a brute-force sliding log: every admission kept, counted by scanning.
type model struct {
	n        int
	window   time.Duration
	admitted []time.Time
	pause    time.Time
}

func (m *model) wait(now time.Time) time.Duration {
	var w time.Duration
	if now.Before(m.pause) {
		w = m.pause.Sub(now)
	}
	// Admissions are in time order: count the ones in (now-W, now] from the newest back.
	in := 0
	for i := len(m.admitted) - 1; i >= 0 && m.admitted[i].After(now.Add(-m.window)); i-- {
		in++
	}
	if in >= m.n {
		if x := m.admitted[len(m.admitted)-m.n].Add(m.window).Sub(now); x > w {
			w = x
		}
	}
	return w
}

func TestLocalRandomizedProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 50 {
		n := 1 + rng.IntN(20)
		window := time.Duration(1+rng.IntN(1000)) * time.Millisecond
		l, fc := newLocal(t, n, window)
		m := &model{n: n, window: window}
		for range 2000 {
			// Mostly small steps, sometimes none (bursts), sometimes a whole window.
			switch r := rng.IntN(10); {
			case r < 3:
			case r < 9:
				fc.Advance(time.Duration(rng.Int64N(int64(window) / 4)))
			default:
				fc.Advance(time.Duration(rng.Int64N(int64(window) * 2)))
			}
			if rng.IntN(100) == 0 {
				until := fc.Now().Add(time.Duration(rng.Int64N(int64(window) * 3)))
				if err := l.PauseUntil(context.Background(), until); err != nil {
					t.Fatal(err)
				}
				if until.After(m.pause) {
					m.pause = until
				}
			}
			for range 1 + rng.IntN(4) {
				now := fc.Now()
				want := m.wait(now)
				got := take(t, l)
				if got != want {
					t.Fatalf("run %d (n=%d, window=%v) at +%v: wait %v, model says %v", run, n, window, now.Sub(start), got, want)
				}
				if got == 0 {
					m.admitted = append(m.admitted, now)
				}
			}
		}
		// The product's promise, checked directly: no window-long span holds more than n
		// admissions, i.e. any n+1 admissions span at least a window.
		for i := n; i < len(m.admitted); i++ {
			if d := m.admitted[i].Sub(m.admitted[i-n]); d < window {
				t.Fatalf("run %d: %d admissions within %v < window %v", run, n+1, d, window)
			}
		}
		if len(m.admitted) < n {
			t.Fatalf("run %d: only %d admissions", run, len(m.admitted))
		}
	}
}

func TestLocalConcurrentBurst(t *testing.T) {
	const n = 10
	l, _ := newLocal(t, n, time.Minute)
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for range 10 {
				if w, _ := l.Take(context.Background()); w == 0 {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := admitted.Load(); got != n {
		t.Errorf("%d admitted from 1000 concurrent attempts, want %d", got, n)
	}
}

func TestLocalPause(t *testing.T) {
	ctx := context.Background()
	l, fc := newLocal(t, 3, time.Minute)
	pause := func(d time.Duration) {
		t.Helper()
		if err := l.PauseUntil(ctx, fc.Now().Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	pause(10 * time.Second)
	if w := take(t, l); w != 10*time.Second {
		t.Fatalf("paused: wait %v, want 10s", w)
	}
	pause(5 * time.Second) // earlier: never shortens
	if w := take(t, l); w != 10*time.Second {
		t.Fatalf("after an earlier PauseUntil: wait %v, want 10s", w)
	}
	pause(20 * time.Second) // later: extends
	if w := take(t, l); w != 20*time.Second {
		t.Fatalf("after a later PauseUntil: wait %v, want 20s", w)
	}
	pause(-time.Second) // in the past: no effect
	fc.Advance(20 * time.Second)
	for i := range 3 {
		if w := take(t, l); w != 0 {
			t.Fatalf("after the pause, call %d: wait %v (the pause consumed nothing)", i, w)
		}
	}
	// A pause shorter than the window wait does not hide it, a longer one wins.
	pause(time.Second)
	if w := take(t, l); w != time.Minute {
		t.Errorf("full window and 1s pause: wait %v, want 1m", w)
	}
	pause(2 * time.Minute)
	if w := take(t, l); w != 2*time.Minute {
		t.Errorf("full window and 2m pause: wait %v, want 2m", w)
	}
}

func TestNewLocalValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Window: time.Second}, "requests"},
		{Config{Requests: -1, Window: time.Second}, "requests"},
		{Config{Requests: 1}, "window"},
		{Config{Requests: 1, Window: -time.Second}, "window"},
	} {
		l, err := NewLocal(c.cfg)
		if err == nil || l != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewLocal(%+v) = %v, %v; want an error about %s", c.cfg, l, err, c.want)
		}
	}
	l, err := NewLocal(Config{Requests: 1, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if w := take(t, l); w != 0 {
		t.Errorf("real clock, first call: wait %v", w)
	}
	if w := take(t, l); w <= 0 || w > time.Hour {
		t.Errorf("real clock, second call: wait %v, want (0, 1h]", w)
	}
}

// fakeDeadline is a context whose deadline is on the fake clock and never fires by
// itself, so Wait's decision is tested without any real time passing.
type fakeDeadline struct {
	context.Context
	at time.Time
}

func (c fakeDeadline) Deadline() (time.Time, bool) { return c.at, true }

// script is a Limiter that answers Take with a fixed sequence of waits.
type script struct {
	mu    sync.Mutex
	waits []time.Duration
	err   error
	taken int
}

func (s *script) Take(context.Context) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken++
	if s.err != nil {
		return 0, s.err
	}
	w := s.waits[0]
	s.waits = s.waits[1:]
	return w, nil
}

func (s *script) PauseUntil(context.Context, time.Time) error { return s.err }

func TestWait(t *testing.T) {
	bg := context.Background()
	for _, c := range []struct {
		name      string
		waits     []time.Duration
		deadline  time.Duration // from start; 0 = none
		maxWait   time.Duration // 0 = none
		wantSlept []time.Duration
		wantRetry time.Duration // > 0: want a *LimitedError with this RetryAfter
	}{
		{"admitted at once", []time.Duration{0}, 0, 0, nil, 0},
		{"no deadline: waits as long as needed", []time.Duration{time.Hour, 0}, 0, 0, []time.Duration{time.Hour}, 0},
		{"deadline leaves time", []time.Duration{2 * time.Second, 0}, 3 * time.Second, 0, []time.Duration{2 * time.Second}, 0},
		{"deadline too close: gives up without sleeping", []time.Duration{5 * time.Second}, 3 * time.Second, 0, nil, 5 * time.Second},
		{"wait ending exactly at the deadline is too late", []time.Duration{3 * time.Second}, 3 * time.Second, 0, nil, 3 * time.Second},
		{"someone else took the slot: waits again, then gives up",
			[]time.Duration{2 * time.Second, 3 * time.Second}, 4 * time.Second, 0, []time.Duration{2 * time.Second}, 3 * time.Second},
		{"waits twice", []time.Duration{time.Second, time.Second, 0}, 3 * time.Second, 0, []time.Duration{time.Second, time.Second}, 0},
		{"max wait leaves time", []time.Duration{2 * time.Second, 0}, 0, 2 * time.Second, []time.Duration{2 * time.Second}, 0},
		{"max wait too short: gives up without sleeping, whatever the deadline",
			[]time.Duration{time.Minute}, time.Hour, 2 * time.Second, nil, time.Minute},
		{"max wait counts all the waits",
			[]time.Duration{time.Second, 2 * time.Second}, time.Hour, 2 * time.Second, []time.Duration{time.Second}, 2 * time.Second},
		{"deadline closer than max wait", []time.Duration{5 * time.Second}, 3 * time.Second, time.Minute, nil, 5 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			fc := clock.NewAutoFake(start)
			l := &script{waits: c.waits}
			ctx := bg
			if c.deadline > 0 {
				ctx = fakeDeadline{bg, start.Add(c.deadline)}
			}
			err := Wait(ctx, l, fc, c.maxWait)
			if c.wantRetry > 0 {
				var le *LimitedError
				if !errors.As(err, &le) || !errors.Is(err, ErrLimited) || le.RetryAfter != c.wantRetry {
					t.Fatalf("err = %v, want *LimitedError with RetryAfter %v", err, c.wantRetry)
				}
				if !strings.Contains(err.Error(), c.wantRetry.String()) {
					t.Errorf("Error() = %q does not say when to retry", err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got := fc.Slept(); !slices.Equal(got, c.wantSlept) {
				t.Errorf("slept %v, want %v", got, c.wantSlept)
			}
		})
	}
}

func TestWaitRealLimiterOnFakeClock(t *testing.T) {
	// A blocking Wait on a manual fake clock returns only once the time is advanced.
	l, fc := newLocal(t, 1, time.Minute)
	take(t, l)
	done := make(chan error, 1)
	go func() { done <- Wait(fakeDeadline{context.Background(), start.Add(time.Hour)}, l, fc, 0) }()
	for fc.Sleepers() != 1 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before the time moved", err)
	default:
	}
	fc.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := fc.Slept(); !slices.Equal(s, []time.Duration{time.Minute}) {
		t.Errorf("slept %v", s)
	}
	// The admission was taken: the next caller waits a full window.
	if w := take(t, l); w != time.Minute {
		t.Errorf("after Wait: next wait %v, want 1m", w)
	}
}

func TestWaitErrors(t *testing.T) {
	down := errors.New("redis down")
	if err := Wait(context.Background(), &script{err: down}, clock.NewAutoFake(start), 0); !errors.Is(err, down) {
		t.Errorf("Take error: Wait = %v", err)
	}
	l, fc := newLocal(t, 1, time.Minute)
	take(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Wait(ctx, l, fc, 0) }()
	for fc.Sleepers() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled while waiting: %v", err)
	}
}

// BenchmarkLocalTake measures Take with a small N (the exact log) and a large N (the
// bucketed window): admitting, refusing, and admitting from many goroutines.
func BenchmarkLocalTake(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		requests int
		window   time.Duration
		fill     bool // take requests calls first, so that every call is refused
		parallel bool
	}{
		// A 1ns window on the real clock: the log is always stale, every Take admits.
		{"exact/admit", 100, time.Nanosecond, false, false},
		{"exact/refuse", 100, time.Hour, true, false},
		{"exact/parallel", 1000, time.Millisecond, false, true},
		// "Effectively unlimited": every Take admits into the current bucket, and buckets
		// come and go as the real clock moves.
		{"bucketed/admit", 100_000_000, time.Second, false, false},
		{"bucketed/refuse", 100_000, time.Hour, true, false},
		{"bucketed/parallel", 100_000_000, time.Millisecond, false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			l, err := NewLocal(Config{Requests: c.requests, Window: c.window})
			if err != nil {
				b.Fatal(err)
			}
			if c.fill {
				for range c.requests {
					_, _ = l.Take(ctx)
				}
			}
			b.ReportAllocs()
			if c.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := l.Take(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			for b.Loop() {
				if _, err := l.Take(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewLocal measures creating an "effectively unlimited" limiter, which used to
// allocate a ring of Requests timestamps (2.4 GB here).
func BenchmarkNewLocal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewLocal(Config{Requests: 100_000_000, Window: time.Second}); err != nil {
			b.Fatal(err)
		}
	}
}
