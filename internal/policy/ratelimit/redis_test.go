package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/servicetest"
)

// redisClient connects to the local Redis (skipping or failing per servicetest) with a
// client of its own, as a separate process would have.
func redisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(tb)})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// uniqueKey returns a key no other test (or run) uses, deleted at the end with every key a
// limiter on it may create (either scheme's) and the sentinel of hammerKey.
func uniqueKey(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	key := "junction:test:ratelimit:" + name + ":" + hex.EncodeToString(b)
	tb.Cleanup(func() {
		c.Del(context.Background(), key, key+":pause", key+":buckets", key+":counts", key+":sentinel")
	})
	return key
}

func newRedis(tb testing.TB, c *redis.Client, key string, requests int, window time.Duration) *Redis {
	tb.Helper()
	l, err := NewRedis(c, key, Config{Requests: requests, Window: window})
	if err != nil {
		tb.Fatalf("NewRedis: %v", err)
	}
	return l
}

// newBucketed is newRedis with the bucketed window whatever requests is, so that it can be
// tested with a small N and short real waits.
func newBucketed(tb testing.TB, c *redis.Client, key string, requests int, window time.Duration) *Redis {
	tb.Helper()
	l, err := newRedisLimiter(c, key, Config{Requests: requests, Window: window}, 0)
	if err != nil {
		tb.Fatalf("newRedisLimiter: %v", err)
	}
	if l.widthUS == 0 {
		tb.Fatal("newRedisLimiter with exactLimit 0 chose the exact log")
	}
	return l
}

// hammerKey runs hammer on the limiters that makeLimiters builds on a fresh key, and
// returns the server's admission times. A sentinel key lives beside the limiter's keys
// while it runs: if it is gone at the end, something outside the test deleted them (a
// FLUSHDB or FLUSHALL by another suite sharing this Redis, or a restart of a Redis that
// keeps nothing), the log was lost, and the admissions say nothing about the limiter. Then
// it says so and tries again on a new key rather than report a limiter bug.
func hammerKey(t *testing.T, c *redis.Client, perLimiter, total int, makeLimiters func(key string) []*Redis) []int64 {
	t.Helper()
	return withSentinel(t, c, func(key string) []int64 {
		return hammer(t, makeLimiters(key), perLimiter, total)
	})
}

// withSentinel runs attempt on a fresh key guarded by a sentinel, as hammerKey describes.
func withSentinel(t *testing.T, c *redis.Client, attempt func(key string) []int64) []int64 {
	t.Helper()
	ctx := context.Background()
	const attempts = 3
	for i := 1; ; i++ {
		key := uniqueKey(t, c)
		if err := c.Set(ctx, key+":sentinel", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		admitted := attempt(key)
		n, err := c.Exists(ctx, key+":sentinel").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return admitted
		}
		msg := "another Redis client deleted this test's keys while it ran (FLUSHDB or FLUSHALL by another suite, or Redis restarted): the log was lost, so its admissions prove nothing about the limiter"
		if i == attempts {
			t.Fatalf("%s; %d attempts in a row, give these tests a Redis no one flushes", msg, attempts)
		}
		t.Logf("attempt %d: %s; trying again on a new key", i, msg)
	}
}

// hammer makes each limiter take, from perLimiter goroutines each, until total admissions
// have been made together, sleeping for real between refusals. It returns the server's
// admission times (µs), sorted.
func hammer(t *testing.T, limiters []*Redis, perLimiter, total int) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var (
		mu       sync.Mutex
		admitted []int64
		wg       sync.WaitGroup
	)
	for _, l := range limiters {
		for g := range perLimiter {
			// Half the goroutines sleep the wait they are given, as Wait does; the others
			// poll every few milliseconds, so an admission made too early would be caught.
			poll := g%2 == 1
			wg.Go(func() {
				for {
					mu.Lock()
					enough := len(admitted) >= total
					mu.Unlock()
					if enough || ctx.Err() != nil {
						return
					}
					wait, at, err := l.take(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					if wait == 0 {
						mu.Lock()
						admitted = append(admitted, at)
						mu.Unlock()
						continue
					}
					// The bucketed window may ask for up to a bucket (less 1µs) more.
					if maxWait := time.Duration(l.windowUS+l.widthUS) * time.Microsecond; wait < 0 || wait > maxWait {
						t.Errorf("wait %v outside (0, %v]", wait, maxWait)
						return
					}
					if poll {
						wait = min(wait, 2*time.Millisecond)
					}
					_ = clock.Real{}.Sleep(ctx, wait)
				}
			})
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("only %d admissions before the test's own time limit", len(admitted))
	}
	slices.Sort(admitted)
	return admitted
}

// checkSlidingLog asserts the product's promise on the server's admission times: no
// window-long span holds more than n admissions, i.e. any n+1 of them span at least a window.
func checkSlidingLog(t *testing.T, admitted []int64, n int, window time.Duration) {
	t.Helper()
	w := window.Microseconds()
	for i := n; i < len(admitted); i++ {
		if d := admitted[i] - admitted[i-n]; d < w {
			t.Fatalf("%d admissions within %dµs < window %dµs", n+1, d, w)
		}
	}
}

func TestRedisSlidingLog(t *testing.T) {
	c := redisClient(t)
	const n, window = 10, 300 * time.Millisecond
	admitted := hammerKey(t, c, 4, 4*n, func(key string) []*Redis {
		return []*Redis{newRedis(t, c, key, n, window)}
	})
	checkSlidingLog(t, admitted, n, window)
}

func TestRedisBurstThenWait(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	l := newRedis(t, c, uniqueKey(t, c), 5, time.Hour)
	for i := range 5 {
		if w, err := l.Take(ctx); err != nil || w != 0 {
			t.Fatalf("call %d of the burst: %v, %v", i+1, w, err)
		}
	}
	// The 6th waits for the oldest to leave: just under an hour, whatever the machine's speed.
	w, err := l.Take(ctx)
	if err != nil || w <= 59*time.Minute || w > time.Hour {
		t.Fatalf("6th call: wait %v, err %v; want just under 1h", w, err)
	}
	// The log and only the log exists, and expires with the window.
	ttl, err := c.PTTL(ctx, l.keys[0]).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("log TTL %v, %v; want about 1h", ttl, err)
	}
	if n, _ := c.ZCard(ctx, l.keys[0]).Result(); n != 5 {
		t.Errorf("log holds %d entries, want 5", n)
	}
}

func TestRedisSharedBudget(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	key := uniqueKey(t, c1)
	ctx := context.Background()

	t.Run("burst", func(t *testing.T) {
		// A one-hour window: however slowly the attempts run, exactly N of them fit.
		const n = 5
		a := newRedis(t, c1, key+":burst", n, time.Hour)
		b := newRedis(t, c2, key+":burst", n, time.Hour)
		t.Cleanup(func() { c1.Del(ctx, key+":burst") })
		got := map[string]int{}
		for i := range 4 * n {
			l, name := a, "a"
			if i%2 == 1 {
				l, name = b, "b"
			}
			w, err := l.Take(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if w == 0 {
				got[name]++
			}
		}
		if got["a"]+got["b"] != n || got["a"] != 3 || got["b"] != 2 {
			t.Errorf("admitted %v, want a:3 b:2 (alternating until the shared 5 are spent)", got)
		}
	})
	t.Run("sliding log across processes", func(t *testing.T) {
		const n, window = 10, 300 * time.Millisecond
		admitted := hammerKey(t, c1, 3, 4*n, func(key string) []*Redis {
			return []*Redis{newRedis(t, c1, key, n, window), newRedis(t, c2, key, n, window)}
		})
		checkSlidingLog(t, admitted, n, window)
	})
}

func TestRedisPauseShared(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	key := uniqueKey(t, c1)
	ctx := context.Background()
	a := newRedis(t, c1, key, 100, time.Minute)
	b := newRedis(t, c2, key, 100, time.Minute)
	now := clock.Real{}.Now()
	wait := func(l *Redis) time.Duration {
		t.Helper()
		w, err := l.Take(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}

	if err := a.PauseUntil(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if w := wait(b); w <= 59*time.Minute || w > time.Hour {
		t.Fatalf("b after a paused for 1h: wait %v", w)
	}
	if err := b.PauseUntil(ctx, now.Add(time.Minute)); err != nil { // earlier: must not shorten
		t.Fatal(err)
	}
	if w := wait(a); w <= 59*time.Minute {
		t.Fatalf("an earlier PauseUntil shortened the pause to %v", w)
	}
	if err := b.PauseUntil(ctx, now.Add(2*time.Hour)); err != nil { // later: extends
		t.Fatal(err)
	}
	if w := wait(a); w <= 119*time.Minute || w > 2*time.Hour {
		t.Fatalf("after extending to 2h: wait %v", w)
	}
	if ttl, err := c1.PTTL(ctx, key+":pause").Result(); err != nil || ttl <= 119*time.Minute || ttl > 2*time.Hour {
		t.Errorf("pause key TTL %v, %v; want about 2h: it must expire by itself", ttl, err)
	}
	if n, _ := c1.Exists(ctx, key).Result(); n != 0 {
		t.Errorf("paused Takes wrote to the log")
	}
	// A pause in the past is a no-op.
	if err := a.PauseUntil(ctx, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}

	// A short pause ends by itself and admissions resume for both.
	c1.Del(ctx, key+":pause")
	if err := a.PauseUntil(ctx, clock.Real{}.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, b, clock.Real{}, 0); err != nil {
		t.Fatal(err)
	}
	if w := wait(a); w != 0 {
		t.Errorf("after the pause ended: wait %v", w)
	}
}

func TestRedisObserveHeaders(t *testing.T) {
	c := redisClient(t)
	ctx := context.Background()
	l := newRedis(t, c, uniqueKey(t, c), 10, time.Minute)
	d, err := ObserveHeaders(ctx, l, clock.Real{}, 429, map[string][]string{"Retry-After": {"30"}}, "")
	if err != nil || d != 30*time.Second {
		t.Fatalf("ObserveHeaders = %v, %v", d, err)
	}
	if w, err := l.Take(ctx); err != nil || w <= 29*time.Second || w > 30*time.Second {
		t.Errorf("Take after Retry-After 30: %v, %v", w, err)
	}
}

func TestRedisDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	defer c.Close()
	l, err := NewRedis(c, "junction:test:down", Config{Requests: 1, Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := l.Take(ctx); err == nil || !strings.Contains(err.Error(), "junction:test:down") {
		t.Errorf("Take with Redis down: %v, want an error naming the key", err)
	}
	if err := l.PauseUntil(ctx, clock.Real{}.Now().Add(time.Minute)); err == nil {
		t.Error("PauseUntil with Redis down: no error")
	}
	if err := Wait(ctx, l, clock.Real{}, 0); err == nil || errors.Is(err, ErrLimited) {
		t.Errorf("Wait with Redis down: %v, want the infrastructure error", err)
	}
}

func TestNewRedisValidation(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	defer c.Close()
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer cluster.Close()
	ok := Config{Requests: 1, Window: time.Second}
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		key    string
		cfg    Config
		want   string
	}{
		{"nil client", nil, "k", ok, "nil redis client"},
		{"empty key", c, "", ok, "empty redis key"},
		{"requests", c, "k", Config{Window: time.Second}, "requests"},
		{"window", c, "k", Config{Requests: 1}, "window"},
		{"sub-µs window", c, "k", Config{Requests: 1, Window: time.Nanosecond}, "resolution"},
		{"cluster without hash tag", cluster, "junction:rl:billing", ok, "hash tag"},
	} {
		l, err := NewRedis(tc.client, tc.key, tc.cfg)
		if err == nil || l != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewRedis = %v, %v; want an error about %q", tc.name, l, err, tc.want)
		}
	}
	if _, err := NewRedis(cluster, "junction:rl:{billing}", ok); err != nil {
		t.Errorf("cluster with hash tag: %v", err)
	}
}

func TestHasHashTag(t *testing.T) {
	for key, want := range map[string]bool{
		"a:{b}":    true,
		"{b}:c":    true,
		"a:{}:{b}": false, // Redis hashes the whole key when the first {} is empty
		"a:b":      false,
		"a:{b":     false,
		"a}{b}":    true,
	} {
		if got := hasHashTag(key); got != want {
			t.Errorf("hasHashTag(%q) = %v, want %v", key, got, want)
		}
	}
}

// BenchmarkRedisTake measures Take with a limit that is never reached, so that every call
// admits and writes, the costly path: in the exact log (the largest N that uses it; the
// short window keeps the log far below N) and in the bucketed window.
func BenchmarkRedisTake(b *testing.B) {
	c := redisClient(b)
	ctx := context.Background()
	for _, scheme := range []struct {
		name     string
		requests int
	}{{"exact", exactLimitRedis}, {"bucketed", 1 << 30}} {
		b.Run(scheme.name+"/serial", func(b *testing.B) {
			l := newRedis(b, c, uniqueKey(b, c), scheme.requests, 100*time.Millisecond)
			for b.Loop() {
				if _, err := l.Take(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(scheme.name+"/parallel", func(b *testing.B) {
			l := newRedis(b, c, uniqueKey(b, c), scheme.requests, 100*time.Millisecond)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Take(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
