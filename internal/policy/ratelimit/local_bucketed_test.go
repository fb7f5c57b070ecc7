package ratelimit

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// exactModel is the exact sliding log for many admissions: times in ns since start, and
// the index of the oldest one still in the window, which only moves forward because the
// tests using it never turn the clock back. wait is O(1) amortised, where model's scan
// would be O(n) per call.
type exactModel struct {
	n        int
	window   int64
	admitted []int64
	inWindow int   // admitted[inWindow:] are in (now-W, now]
	pause    int64 // nothing is admitted before this
}

func (m *exactModel) wait(now int64) time.Duration {
	var w int64
	if now < m.pause {
		w = m.pause - now
	}
	for m.inWindow < len(m.admitted) && m.admitted[m.inWindow] <= now-m.window {
		m.inWindow++
	}
	if len(m.admitted)-m.inWindow >= m.n {
		w = max(w, m.admitted[len(m.admitted)-m.n]+m.window-now)
	}
	return time.Duration(w)
}

func TestLocalBucketedScheme(t *testing.T) {
	if l, _ := newLocal(t, exactLimit, time.Second); l.width != 1 {
		t.Errorf("Requests = exactLimit: bucket width %d, want the exact log (1)", l.width)
	}
	l, _ := newLocal(t, exactLimit+1, time.Second)
	if want := int64(time.Second/buckets) + 1; l.width != want {
		t.Errorf("Requests = exactLimit+1: bucket width %d ns, want %d", l.width, want)
	}
}

// TestLocalBucketedAgainstExact drives the bucketed window with a large N through random
// bursts and gaps and compares every answer with the exact rule applied to the same
// admissions: never less wait (so never an admission the exact rule would refuse), never
// more than one bucket width more (refusals at most a bucket early). It then checks the
// product's promise directly on the admitted times.
func TestLocalBucketedAgainstExact(t *testing.T) {
	const n, window = 100_000, time.Second
	rng := rand.New(rand.NewPCG(3, 4))
	l, fc := newLocal(t, n, window)
	width := time.Duration(l.width)
	m := &exactModel{n: n, window: int64(window)}
	ctx := context.Background()
	var refusals, probes int
	for range 1000 {
		// Mostly steps within a bucket, so that buckets leave the window one at a time while
		// it is full; sometimes a few buckets, and rarely more than a window, so that many
		// or all leave at once.
		switch r := rng.IntN(1000); {
		case r < 200:
		case r < 948:
			fc.Advance(time.Duration(rng.Int64N(int64(width / 2))))
		case r < 998:
			fc.Advance(time.Duration(rng.Int64N(int64(window / 100))))
		default:
			fc.Advance(time.Duration(rng.Int64N(int64(window + window/2))))
		}
		if rng.IntN(500) == 0 {
			until := fc.Now().Add(time.Duration(rng.Int64N(int64(window / 4))))
			if err := l.PauseUntil(ctx, until); err != nil {
				t.Fatal(err)
			}
			m.pause = max(m.pause, int64(until.Sub(start)))
		}
		// Bursts of a few hundred, now and then of up to an eighth of n: more than n per
		// window on average, so the window is full most of the time.
		calls := 1 + rng.IntN(300)
		if rng.IntN(10) == 0 {
			calls = rng.IntN(n / 8)
		}
		for range calls {
			now := int64(fc.Now().Sub(start))
			exact := m.wait(now)
			got := take(t, l)
			if got < exact || got > exact+width-1 {
				t.Fatalf("at +%v: wait %v, want the exact rule's %v plus at most a bucket (%v)", time.Duration(now), got, exact, width-1)
			}
			if got == 0 {
				m.admitted = append(m.admitted, now)
				continue
			}
			refusals++
			// The wait is exact for this scheme: still refused just before it ends, admitted
			// when it has (unless someone else took the place, which no one does here).
			// Mostly probed when short, as the oldest bucket is about to leave, since a long
			// one skips much of the window.
			if rng.IntN(3) == 0 && got <= 10*width || rng.IntN(50) == 0 {
				probes++
				fc.Advance(got - 1)
				if w := take(t, l); w != 1 {
					t.Fatalf("1ns before the wait of %v ends: wait %v, want 1ns", got, w)
				}
				fc.Advance(1)
				now = int64(fc.Now().Sub(start))
				if exact := m.wait(now); exact != 0 {
					t.Fatalf("at the end of a wait of %v the exact rule still says %v", got, exact)
				}
				if w := take(t, l); w != 0 {
					t.Fatalf("when the wait of %v ended: wait %v, want admitted", got, w)
				}
				m.admitted = append(m.admitted, now)
			}
			break // everyone else in this burst would be refused too
		}
	}
	checkSpans(t, m.admitted, n, int64(window))
	t.Logf("%d admissions, %d refusals, %d waits probed", len(m.admitted), refusals, probes)
	if refusals < 100 || probes < 5 || len(m.admitted) < 3*n {
		t.Fatalf("the test did not exercise the limit: %d admissions, %d refusals, %d waits probed", len(m.admitted), refusals, probes)
	}
	if len(l.ring) > buckets+1 {
		t.Errorf("ring of %d entries, more than buckets+1", len(l.ring))
	}
}

// checkSpans asserts the product's promise: any n+1 of the sorted admission times span at
// least a window, so no window-long span holds more than n.
func checkSpans(t *testing.T, admitted []int64, n int, window int64) {
	t.Helper()
	for i := n; i < len(admitted); i++ {
		if d := admitted[i] - admitted[i-n]; d < window {
			t.Fatalf("%d admissions within %v < window %v", n+1, time.Duration(d), time.Duration(window))
		}
	}
}

func TestLocalBucketedBurst(t *testing.T) {
	const n, window = 100_000, time.Second
	l, fc := newLocal(t, n, window)
	width := time.Duration(l.width)
	fc.Advance(time.Duration(l.width) / 2) // not on a bucket boundary
	for round := range 2 {
		for i := range n {
			if w := take(t, l); w != 0 {
				t.Fatalf("round %d: call %d of the burst of n: wait %v", round, i+1, w)
			}
		}
		// The whole burst counts as made at the end of its bucket: the n+1th waits for
		// that plus a window, at most a bucket more than the exact rule's window.
		w := take(t, l)
		if w < window || w >= window+width {
			t.Fatalf("round %d: n+1th call waits %v, want [%v, %v)", round, w, window, window+width)
		}
		fc.Advance(w - 1)
		if w := take(t, l); w != 1 {
			t.Fatalf("round %d: 1ns before the burst leaves: wait %v", round, w)
		}
		fc.Advance(1) // the whole burst leaves at once
	}
}

func TestNewLocalLargeAllocatesLittle(t *testing.T) {
	const n = 100_000_000 // "effectively unlimited", which used to cost 2.3 GB
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l, err := NewLocal(Config{Requests: n, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 64<<10 {
		t.Errorf("NewLocal with Requests %d allocated %d bytes", n, d)
	}
	if cap(l.ring) != 0 {
		t.Errorf("NewLocal allocated a ring of %d entries before any call", cap(l.ring))
	}
	// Busy use cannot grow it past the bucket ring either: about four calls per bucket,
	// over several windows.
	fl, fc := newLocal(t, n, time.Second)
	runtime.ReadMemStats(&before)
	for range 20_000 {
		take(t, fl)
		fc.Advance(time.Second / 4096)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Errorf("20000 Takes allocated %d bytes", d)
	}
	if len(fl.ring) > buckets+1 {
		t.Errorf("ring of %d entries, more than buckets+1", len(fl.ring))
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = fl.Take(context.Background()) }); a != 0 {
		t.Errorf("Take allocates %v times per call once the ring has grown", a)
	}
}
