package breaker

import (
	"errors"
	"fmt"
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

type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) record(from, to State, failures int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s->%s/%d", from, to, failures))
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func newBreaker(t *testing.T, cfg Config) (*Breaker, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(start)
	cfg.Clock = fc
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b, fc
}

// call makes one call with the given outcome and fails the test if it was refused.
func call(t *testing.T, b *Breaker, success bool) {
	t.Helper()
	done, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow in state %s: %v", b.State(), err)
	}
	done(success)
}

// step is one action of a scripted scenario on the fake clock.
type step struct {
	advance time.Duration
	outcome string // "ok", "fail", or "" for no call
	want    State  // state after the step
	count   int    // Counts() after the step
}

func TestSemantics(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{
			name: "window: failures outside the window do not count",
			cfg:  Config{Failures: 3, Window: time.Minute},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{advance: 30 * time.Second, outcome: "fail", want: Closed, count: 2},
				// 61 s after the first failure: it has left the window.
				{advance: 31 * time.Second, outcome: "fail", want: Closed, count: 2},
				{outcome: "fail", want: Open, count: 3},
			},
		},
		{
			name: "window: a failure exactly Window old has left",
			cfg:  Config{Failures: 2, Window: time.Minute},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{advance: time.Minute - time.Nanosecond, want: Closed, count: 1},
				{advance: time.Nanosecond, want: Closed, count: 0},
				{outcome: "fail", want: Closed, count: 1},
			},
		},
		{
			name: "window: one nanosecond inside the window still counts",
			cfg:  Config{Failures: 2, Window: time.Minute},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{advance: time.Minute - time.Nanosecond, outcome: "fail", want: Open, count: 2},
			},
		},
		{
			name: "window: successes do not erase failures",
			cfg:  Config{Failures: 3, Window: time.Minute},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{outcome: "ok", want: Closed, count: 1},
				{outcome: "fail", want: Closed, count: 2},
				{outcome: "ok", want: Closed, count: 2},
				{outcome: "fail", want: Open, count: 3},
			},
		},
		{
			name: "consecutive: a success resets the count",
			cfg:  Config{Failures: 3, Consecutive: true},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{outcome: "fail", want: Closed, count: 2},
				{outcome: "ok", want: Closed, count: 0},
				{outcome: "fail", want: Closed, count: 1},
				{outcome: "fail", want: Closed, count: 2},
				{outcome: "fail", want: Open, count: 3},
			},
		},
		{
			name: "consecutive: time does not matter, Window ignored",
			cfg:  Config{Failures: 2, Consecutive: true, Window: time.Second},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{advance: time.Hour, outcome: "fail", want: Open, count: 2},
			},
		},
		{
			name: "half-open after ResetAfter, probe success closes and clears",
			cfg:  Config{Failures: 1, Consecutive: true, ResetAfter: 10 * time.Second},
			steps: []step{
				{outcome: "fail", want: Open, count: 1},
				{advance: 10*time.Second - time.Nanosecond, want: Open, count: 1},
				{advance: time.Nanosecond, want: HalfOpen, count: 0},
				{outcome: "ok", want: Closed, count: 0},
			},
		},
		{
			name: "probe failure re-opens",
			cfg:  Config{Failures: 2, Window: time.Minute, ResetAfter: 10 * time.Second},
			steps: []step{
				{outcome: "fail", want: Closed, count: 1},
				{outcome: "fail", want: Open, count: 2},
				{advance: 10 * time.Second, outcome: "fail", want: Open, count: 1},
				{advance: 10*time.Second - time.Nanosecond, want: Open, count: 1},
				{advance: time.Nanosecond, want: HalfOpen, count: 0},
			},
		},
		{
			name: "default ResetAfter is 30s",
			cfg:  Config{Failures: 1, Consecutive: true},
			steps: []step{
				{outcome: "fail", want: Open, count: 1},
				{advance: 30*time.Second - time.Nanosecond, want: Open, count: 1},
				{advance: time.Nanosecond, want: HalfOpen, count: 0},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, fc := newBreaker(t, c.cfg)
			for i, s := range c.steps {
				fc.Advance(s.advance)
				switch s.outcome {
				case "ok":
					call(t, b, true)
				case "fail":
					call(t, b, false)
				}
				if got := b.State(); got != s.want {
					t.Fatalf("step %d: state %s, want %s", i, got, s.want)
				}
				if got := b.Counts(); got != s.count {
					t.Fatalf("step %d: Counts() = %d, want %d", i, got, s.count)
				}
			}
		})
	}
}

func TestOpenRejectsWithRetryAfter(t *testing.T) {
	b, fc := newBreaker(t, Config{Failures: 1, Consecutive: true, ResetAfter: 30 * time.Second})
	call(t, b, false)
	for _, c := range []struct {
		advance time.Duration
		want    time.Duration
	}{
		{0, 30 * time.Second},
		{12 * time.Second, 18 * time.Second},
		{18*time.Second - time.Millisecond, time.Millisecond},
	} {
		fc.Advance(c.advance)
		done, err := b.Allow()
		if done != nil {
			t.Fatal("refused Allow returned a done func")
		}
		var oe *OpenError
		if !errors.As(err, &oe) || !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want an *OpenError wrapping ErrOpen", err)
		}
		if oe.RetryAfter != c.want {
			t.Errorf("RetryAfter = %v, want %v", oe.RetryAfter, c.want)
		}
		if !strings.Contains(err.Error(), c.want.String()) {
			t.Errorf("Error() = %q does not say when to retry (%v)", err, c.want)
		}
	}
}

func TestHalfOpenProbeLimit(t *testing.T) {
	for _, probes := range []int{1, 3} {
		t.Run(fmt.Sprint(probes, " probes"), func(t *testing.T) {
			b, fc := newBreaker(t, Config{Failures: 1, Consecutive: true, ResetAfter: time.Second, HalfOpenProbes: probes})
			call(t, b, false)
			fc.Advance(time.Second)

			const callers = 50
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				dones   []func(bool)
				refused atomic.Int32
			)
			for range callers {
				wg.Go(func() {
					done, err := b.Allow()
					if err != nil {
						var oe *OpenError
						if !errors.As(err, &oe) || oe.RetryAfter != 0 {
							t.Errorf("refused probe: err = %v, want *OpenError with RetryAfter 0", err)
						}
						refused.Add(1)
						return
					}
					mu.Lock()
					dones = append(dones, done)
					mu.Unlock()
				})
			}
			wg.Wait()
			if len(dones) != probes || int(refused.Load()) != callers-probes {
				t.Fatalf("%d probes allowed, %d refused; want %d and %d", len(dones), refused.Load(), probes, callers-probes)
			}
			if s := b.State(); s != HalfOpen {
				t.Fatalf("state %s while probes are in flight", s)
			}
			// The first probe to succeed closes the circuit and ends the half-open generation,
			// so the other probes' outcomes are stale and must not re-open it.
			dones[0](true)
			if s := b.State(); s != Closed {
				t.Fatalf("state %s after a probe success", s)
			}
			for _, d := range dones[1:] {
				d(false)
			}
			if s, n := b.State(), b.Counts(); s != Closed || n != 0 {
				t.Errorf("after stale probe failures: state %s, counts %d; want closed, 0", s, n)
			}
		})
	}
}

func TestProbeFailureReopensForFreshPeriod(t *testing.T) {
	rec := &recorder{}
	b, fc := newBreaker(t, Config{Failures: 1, Consecutive: true, ResetAfter: 10 * time.Second, OnStateChange: rec.record})
	call(t, b, false)
	fc.Advance(25 * time.Second) // well past ResetAfter: the new period starts at the probe's failure
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	fc.Advance(3 * time.Second) // the probe took 3 s
	done(false)
	_, err = b.Allow()
	var oe *OpenError
	if !errors.As(err, &oe) || oe.RetryAfter != 10*time.Second {
		t.Fatalf("after a failed probe: err = %v, want RetryAfter 10s", err)
	}
	want := []string{"closed->open/1", "open->half-open/0", "half-open->open/1"}
	if got := rec.get(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("transitions %v, want %v", got, want)
	}
}

func TestStaleOutcomesIgnored(t *testing.T) {
	t.Run("slow failure after the circuit opened and closed again", func(t *testing.T) {
		b, fc := newBreaker(t, Config{Failures: 2, Consecutive: true, ResetAfter: time.Second})
		slow, err := b.Allow() // started while closed, generation 0
		if err != nil {
			t.Fatal(err)
		}
		call(t, b, false)
		call(t, b, false) // opens
		fc.Advance(time.Second)
		call(t, b, true) // probe closes
		call(t, b, false)
		if n := b.Counts(); n != 1 {
			t.Fatalf("counts %d, want 1", n)
		}
		slow(false) // stale: must not be the second failure that re-opens the circuit
		if s, n := b.State(), b.Counts(); s != Closed || n != 1 {
			t.Errorf("after a stale failure: state %s, counts %d; want closed, 1", s, n)
		}
	})
	t.Run("slow success does not close a half-open circuit", func(t *testing.T) {
		b, fc := newBreaker(t, Config{Failures: 1, Window: time.Minute, ResetAfter: time.Second})
		slow, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		call(t, b, false) // opens
		fc.Advance(time.Second)
		if s := b.State(); s != HalfOpen {
			t.Fatalf("state %s", s)
		}
		slow(true)
		if s := b.State(); s != HalfOpen {
			t.Errorf("a success started while closed moved a half-open circuit to %s", s)
		}
		// And the probe slot is still free for a real probe.
		call(t, b, true)
		if s := b.State(); s != Closed {
			t.Errorf("state %s after the probe succeeded", s)
		}
	})
	t.Run("slow success does not reset consecutive count of a later generation", func(t *testing.T) {
		b, _ := newBreaker(t, Config{Failures: 3, Consecutive: true})
		slow, _ := b.Allow()
		b.Reset()
		call(t, b, false)
		call(t, b, false)
		slow(true)
		if n := b.Counts(); n != 2 {
			t.Errorf("counts %d after a stale success, want 2", n)
		}
	})
}

func TestReset(t *testing.T) {
	rec := &recorder{}
	b, _ := newBreaker(t, Config{Failures: 2, Window: time.Minute, OnStateChange: rec.record})
	call(t, b, false)
	b.Reset() // closed → closed: counts cleared, no notification
	if n := b.Counts(); n != 0 {
		t.Errorf("counts %d after Reset, want 0", n)
	}
	call(t, b, false)
	call(t, b, false)
	if s := b.State(); s != Open {
		t.Fatalf("state %s", s)
	}
	b.Reset()
	if s, n := b.State(), b.Counts(); s != Closed || n != 0 {
		t.Errorf("after Reset: %s, %d", s, n)
	}
	call(t, b, true)
	want := []string{"closed->open/2", "open->closed/0"}
	if got := rec.get(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("transitions %v, want %v", got, want)
	}
}

func TestOnStateChangeSequence(t *testing.T) {
	rec := &recorder{}
	var b *Breaker
	var seen []State
	cfg := Config{Failures: 3, Window: time.Minute, ResetAfter: 5 * time.Second,
		OnStateChange: func(from, to State, failures int) {
			rec.record(from, to, failures)
			// The callback runs outside the lock: calling back into the breaker must not
			// deadlock.
			seen = append(seen, b.State())
		}}
	b, fc := newBreaker(t, cfg)
	for range 3 {
		call(t, b, false)
	}
	fc.Advance(5 * time.Second)
	call(t, b, true)
	want := []string{"closed->open/3", "open->half-open/0", "half-open->closed/0"}
	if got := rec.get(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("transitions %v, want %v", got, want)
	}
	if fmt.Sprint(seen) != "[open half-open closed]" {
		t.Errorf("State() inside the callback = %v", seen)
	}
}

func TestOnStateChangeOrderUnderConcurrency(t *testing.T) {
	// Many goroutines drive the breaker through cycles; every notification must continue
	// from the state the previous one ended in.
	var mu sync.Mutex
	var last = Closed
	var broken string
	cfg := Config{Failures: 1, Consecutive: true, ResetAfter: time.Millisecond, HalfOpenProbes: 2,
		OnStateChange: func(from, to State, _ int) {
			mu.Lock()
			defer mu.Unlock()
			if from != last && broken == "" {
				broken = fmt.Sprintf("got %s->%s after a transition to %s", from, to, last)
			}
			last = to
		}}
	fc := clock.NewFake(start)
	cfg.Clock = fc
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if done, err := b.Allow(); err == nil {
					done((i+g)%3 == 0)
				}
				if i%7 == 0 {
					fc.Advance(time.Millisecond)
				}
				if i%97 == 0 {
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	if broken != "" {
		t.Error(broken)
	}
}

func TestBulkhead(t *testing.T) {
	const limit, callers = 5, 100
	b, _ := newBreaker(t, Config{Failures: 1000, Consecutive: true, MaxConcurrent: limit})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		dones   []func(bool)
		refused atomic.Int32
	)
	for range callers {
		wg.Go(func() {
			done, err := b.Allow()
			if err != nil {
				if !errors.Is(err, ErrBulkheadFull) {
					t.Errorf("err = %v, want ErrBulkheadFull", err)
				}
				refused.Add(1)
				return
			}
			mu.Lock()
			dones = append(dones, done)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(dones) != limit || refused.Load() != callers-limit {
		t.Fatalf("%d in flight, %d refused; want %d, %d", len(dones), refused.Load(), limit, callers-limit)
	}
	dones[0](true)
	dones[0](true) // idempotent: must not free a second slot
	// Exactly one slot was freed: one more call gets in, the next does not.
	extra, err := b.Allow()
	if err != nil {
		t.Fatalf("with %d in flight: %v", limit-1, err)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrBulkheadFull) {
		t.Errorf("with %d in flight: err = %v, want ErrBulkheadFull", limit, err)
	}
	extra(true)
	for _, d := range dones[1:] {
		d(true)
	}

	// Under churn the number in flight never exceeds the limit.
	var inFlight, peak atomic.Int32
	for range 50 {
		wg.Go(func() {
			for range 200 {
				done, err := b.Allow()
				if err != nil {
					continue
				}
				n := inFlight.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				inFlight.Add(-1)
				done(true)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Errorf("peak in flight %d > %d", p, limit)
	}
}

func TestBulkheadFreedByStaleOutcome(t *testing.T) {
	b, _ := newBreaker(t, Config{Failures: 1, Consecutive: true, MaxConcurrent: 1})
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	b.Reset() // makes the call stale
	done(false)
	call(t, b, true) // the slot is free again
}

func TestOpenTakesPrecedenceOverBulkhead(t *testing.T) {
	b, fc := newBreaker(t, Config{Failures: 1, Consecutive: true, ResetAfter: time.Second, MaxConcurrent: 2})
	slow, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	call(t, b, false) // opens; the slow call keeps one slot
	fc.Advance(time.Second)
	probe, err := b.Allow() // the only probe, and the bulkhead is now full too
	if err != nil {
		t.Fatal(err)
	}
	var oe *OpenError
	if _, err := b.Allow(); !errors.As(err, &oe) {
		t.Errorf("half-open with probes and bulkhead full: err = %v, want *OpenError", err)
	}
	probe(true)
	slow(true)
}

func TestDoneIdempotent(t *testing.T) {
	b, _ := newBreaker(t, Config{Failures: 2, Consecutive: true})
	done, err := b.Allow()
	if err != nil {
		t.Fatal(err)
	}
	done(false)
	done(false)
	done(false)
	if s, n := b.State(), b.Counts(); s != Closed || n != 1 {
		t.Errorf("after one call reported three times: %s, %d failures", s, n)
	}
	// Concurrent duplicate calls count once too.
	done, _ = b.Allow()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { done(false) })
	}
	wg.Wait()
	if s := b.State(); s != Open {
		t.Errorf("state %s, want open after exactly two failures", s)
	}
	if n := b.Counts(); n != 2 {
		t.Errorf("counts %d, want 2", n)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Window: time.Minute}, "failures"},
		{Config{Failures: -1, Consecutive: true}, "failures"},
		{Config{Failures: 5}, "window"},
		{Config{Failures: 5, Window: -time.Second}, "window"},
		{Config{Failures: 5, Consecutive: true, ResetAfter: -1}, "reset_after"},
		{Config{Failures: 5, Consecutive: true, HalfOpenProbes: -1}, "half_open_probes"},
		{Config{Failures: 5, Consecutive: true, MaxConcurrent: -1}, "max_concurrent"},
	} {
		b, err := New(c.cfg)
		if err == nil || b != nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, %v; want an error about %s", c.cfg, b, err, c.want)
		}
	}
	for _, cfg := range []Config{
		{Failures: 1, Consecutive: true},
		{Failures: 5, Window: time.Minute, ResetAfter: time.Second, HalfOpenProbes: 2, MaxConcurrent: 10},
	} {
		if _, err := New(cfg); err != nil {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", Open: "open", HalfOpen: "half-open", 7: "State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestRealClockDefault(t *testing.T) {
	b, err := New(Config{Failures: 1, Consecutive: true, ResetAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	call(t, b, false)
	_, err = b.Allow()
	var oe *OpenError
	if !errors.As(err, &oe) || oe.RetryAfter <= 0 || oe.RetryAfter > time.Hour {
		t.Errorf("err = %v, want RetryAfter in (0, 1h]", err)
	}
}

func BenchmarkAllowDone(b *testing.B) {
	br, err := New(Config{Failures: 5, Window: time.Minute, MaxConcurrent: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, err := br.Allow()
			if err != nil {
				b.Error(err)
				return
			}
			done(true)
		}
	})
}

// Apply takes another process's transition: it is reported to OnChange as remote, not
// to OnStateChange, and an open circuit keeps the open time it was given.
func TestApplyRemote(t *testing.T) {
	rec := &recorder{}
	var changes []Change
	b, fc := newBreaker(t, Config{Failures: 2, Consecutive: true, ResetAfter: time.Minute,
		OnStateChange: rec.record, OnChange: func(c Change) { changes = append(changes, c) }})
	b.Apply(Open, 20*time.Second)
	if b.State() != Open {
		t.Fatalf("state %v after Apply(Open)", b.State())
	}
	if _, err := b.Allow(); err == nil || err.(*OpenError).RetryAfter != 20*time.Second {
		t.Fatalf("Allow = %v, want open for 20s", err)
	}
	fc.Advance(20 * time.Second)
	if b.State() != HalfOpen {
		t.Fatalf("state %v once the applied open time passed", b.State())
	}
	b.Apply(Closed, 0)
	b.Apply(Closed, 0) // the same state again: nothing
	if got := rec.get(); len(got) != 1 || got[0] != "open->half-open/0" {
		t.Errorf("OnStateChange saw %v, want only the local open->half-open", got)
	}
	want := []Change{{From: Closed, To: Open, RetryAfter: 20 * time.Second, Remote: true}, {From: Open, To: HalfOpen}, {From: HalfOpen, To: Closed, Remote: true}}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("OnChange saw %+v, want %+v", changes, want)
	}
	// A local open reports the full ResetAfter; a reset of a closed circuit reaches
	// OnChange (for the other processes) but not OnStateChange.
	changes = nil
	call(t, b, false)
	call(t, b, false)
	b.Reset()
	b.Reset()
	want = []Change{{From: Closed, To: Open, Failures: 2, RetryAfter: time.Minute}, {From: Open, To: Closed}, {From: Closed, To: Closed}}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("OnChange saw %+v, want %+v", changes, want)
	}
}
