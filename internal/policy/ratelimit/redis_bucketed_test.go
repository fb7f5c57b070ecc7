package ratelimit

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisScheme(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	exact, err := NewRedis(c, "k", Config{Requests: exactLimitRedis, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if exact.widthUS != 0 || !slices.Equal(exact.keys, []string{"k", "k:pause"}) {
		t.Errorf("Requests = exactLimitRedis: width %dµs, keys %q; want the exact log", exact.widthUS, exact.keys)
	}
	b, err := NewRedis(c, "k", Config{Requests: exactLimitRedis + 1, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if b.widthUS != 977 || !slices.Equal(b.keys, []string{"k:buckets", "k:counts", "k:pause"}) {
		t.Errorf("Requests = exactLimitRedis+1: width %dµs, keys %q; want 977µs buckets", b.widthUS, b.keys)
	}
	if b.ttlMS != 1001 {
		t.Errorf("bucketed TTL %dms, want the window plus a bucket, rounded up: 1001ms", b.ttlMS)
	}
}

func TestRedisBucketedSlidingWindow(t *testing.T) {
	// A small N in the bucketed window, so that the limit is reached with real sleeps and
	// polls from two processes, as TestRedisSharedBudget does for the exact log.
	c1, c2 := redisClient(t), redisClient(t)
	const n, window = 10, 300 * time.Millisecond
	admitted := hammerKey(t, c1, 3, 4*n, func(key string) []*Redis {
		return []*Redis{newBucketed(t, c1, key, n, window), newBucketed(t, c2, key, n, window)}
	})
	checkSlidingLog(t, admitted, n, window)
}

func TestRedisBucketedBurstThenWait(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	l := newBucketed(t, c, uniqueKey(t, c), 5, time.Hour)
	width := time.Duration(l.widthUS) * time.Microsecond
	for i := range 5 {
		if w, err := l.Take(ctx); err != nil || w != 0 {
			t.Fatalf("call %d of the burst: %v, %v", i+1, w, err)
		}
	}
	// The burst counts as made at the end of its bucket: the 6th waits about an hour,
	// at most a bucket more.
	w, err := l.Take(ctx)
	if err != nil || w <= 59*time.Minute || w > time.Hour+width {
		t.Fatalf("6th call: wait %v, err %v; want about 1h, at most 1h%v", w, err, width)
	}
	// The state is a bucket or two (the burst may straddle a boundary) holding 5 calls,
	// and expires a window and a bucket after the last admission.
	if nb, _ := c.ZCard(ctx, l.keys[0]).Result(); nb < 1 || nb > 2 {
		t.Errorf("%d buckets, want 1 or 2", nb)
	}
	if total, _ := c.HGet(ctx, l.keys[1], "n").Int(); total != 5 {
		t.Errorf("total %d, want 5", total)
	}
	for _, k := range l.keys[:2] {
		if ttl, err := c.PTTL(ctx, k).Result(); err != nil || ttl <= 59*time.Minute || ttl > time.Hour+width+time.Millisecond {
			t.Errorf("%s TTL %v, %v; want about 1h", k, ttl, err)
		}
	}
	// The pause key works as with the exact log.
	if err := l.PauseUntil(ctx, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w, err := l.Take(ctx); err != nil || w <= 119*time.Minute || w > 2*time.Hour {
		t.Errorf("paused for 2h: wait %v, %v", w, err)
	}
}

func TestRedisBucketedLostState(t *testing.T) {
	// If one of the two keys is lost (deleted, evicted), the script starts afresh, as the
	// exact log does when its key is lost, rather than fail or never admit again.
	c := redisClient(t)
	ctx := context.Background()
	for i, lose := range []int{0, 1} {
		l := newBucketed(t, c, uniqueKey(t, c), 3, time.Hour)
		for range 3 {
			if w, err := l.Take(ctx); err != nil || w != 0 {
				t.Fatalf("case %d: fill: %v, %v", i, w, err)
			}
		}
		if w, err := l.Take(ctx); err != nil || w == 0 {
			t.Fatalf("case %d: full: %v, %v", i, w, err)
		}
		c.Del(ctx, l.keys[lose])
		for j := range 3 {
			if w, err := l.Take(ctx); err != nil || w != 0 {
				t.Fatalf("case %d: after losing %s, call %d: %v, %v", i, l.keys[lose], j+1, w, err)
			}
		}
		if w, err := l.Take(ctx); err != nil || w == 0 {
			t.Fatalf("case %d: full again: %v, %v", i, w, err)
		}
	}
}

// decision is one Take's outcome at the server's time.
type decision struct {
	at       int64 // µs
	admitted bool
}

// flood makes each limiter take from perLimiter goroutines, in pipelines of batch calls,
// without waiting between refusals, until total admissions have been made together, and
// returns every decision. Pipelines make thousands of calls per second, which a large N
// needs to be reached in a short window.
func flood(t *testing.T, limiters []*Redis, perLimiter, batch, total int) []decision {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu        sync.Mutex
		decisions []decision
		admitted  int
		wg        sync.WaitGroup
	)
	for _, l := range limiters {
		// Pipelined EVALSHA cannot fall back to EVAL, so load the script first.
		if err := l.script.Load(ctx, l.client).Err(); err != nil {
			t.Fatal(err)
		}
		maxWait := time.Duration(l.windowUS+l.widthUS) * time.Microsecond
		for range perLimiter {
			wg.Go(func() {
				cmds := make([]*redis.Cmd, batch)
				for {
					mu.Lock()
					enough := admitted >= total
					mu.Unlock()
					if enough || ctx.Err() != nil {
						return
					}
					pipe := l.client.Pipeline()
					for i := range cmds {
						cmds[i] = l.eval(ctx, pipe)
					}
					if _, err := pipe.Exec(ctx); err != nil && ctx.Err() == nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, cmd := range cmds {
						wait, at, err := l.result(cmd)
						if err != nil {
							if ctx.Err() == nil {
								t.Error(err)
							}
							break
						}
						if wait < 0 || wait > maxWait {
							t.Errorf("wait %v outside (0, %v]", wait, maxWait)
						}
						decisions = append(decisions, decision{at: at, admitted: wait == 0})
						if wait == 0 {
							admitted++
						}
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("only %d admissions before the test's own time limit", admitted)
	}
	slices.SortFunc(decisions, func(a, b decision) int { return cmp.Compare(a.at, b.at) })
	return decisions
}

func admissionTimes(ds []decision) []int64 {
	var at []int64
	for _, d := range ds {
		if d.admitted {
			at = append(at, d.at)
		}
	}
	return at
}

func TestRedisBucketedLargeN(t *testing.T) {
	// The smallest N that takes the bucketed window for real: each call is a script run on
	// the server, so a larger N would only make the test longer.
	const n = exactLimitRedis + 1
	c1, c2 := redisClient(t), redisClient(t)
	makeLimiters := func(key string, requests int, window time.Duration) []*Redis {
		return []*Redis{newRedis(t, c1, key, requests, window), newRedis(t, c2, key, requests, window)}
	}
	// The window must be long enough for this machine to make n calls well within it, or
	// the limit is never reached: time n calls against a limit never reached, and make the
	// window three times that (half a second at least). A machine that slows down after
	// that measure may still not reach the limit; that says nothing about the limiter, so
	// the run is repeated with a window twice as long.
	began := time.Now()
	flood(t, makeLimiters(uniqueKey(t, c1), 1<<30, time.Second), 2, 256, n)
	window := max(500*time.Millisecond, 3*time.Since(began)).Round(time.Millisecond)

	var decisions []decision
	first := -1
	for try := 1; first < 0; try++ {
		withSentinel(t, c1, func(key string) []int64 {
			ls := makeLimiters(key, n, window)
			if ls[0].widthUS == 0 {
				t.Fatalf("Requests %d: the exact log, want the bucketed window", n)
			}
			decisions = flood(t, ls, 2, 256, 2*n)
			// The buckets stay within their bound whatever N is.
			ctx := context.Background()
			if nb, _ := c1.ZCard(ctx, ls[0].keys[0]).Result(); nb > bucketsRedis+1 {
				t.Errorf("%d buckets, more than %d", nb, bucketsRedis+1)
			}
			return nil
		})
		checkSlidingLog(t, admissionTimes(decisions), n, window)
		// The window started empty: the first refusal came only after a full burst of n.
		if first = slices.IndexFunc(decisions, func(d decision) bool { return !d.admitted }); first >= 0 {
			break
		}
		if try == 5 {
			t.Fatalf("no call was refused in %d decisions with a window of %v: the limit was never reached", len(decisions), window)
		}
		t.Logf("window %v: the limit was never reached (the machine slowed down); again with %v", window, 2*window)
		window *= 2
	}
	admitted := admissionTimes(decisions)
	before := 0
	for _, d := range decisions {
		if d.admitted && d.at <= decisions[first].at {
			before++
		}
	}
	if before < n {
		t.Errorf("first refusal after %d admissions, want a full burst of %d", before, n)
	}
	t.Logf("window %v: %d decisions, %d admitted", window, len(decisions), len(admitted))
}
