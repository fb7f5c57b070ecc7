package inflight

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/servicetest"
	"github.com/junctionhq/junction/internal/testkit"
)

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// running starts b.Run until the test ends (or stop is called).
func running(t *testing.T, b *Board) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func others(b *Board) map[string]int {
	m := map[string]int{}
	b.AddOthers(m)
	return m
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestBoardsShareCounts: what one node sets reaches the others, changes follow, a clean
// stop removes the node's counts at once, and a node's own counts are never its others'.
func TestBoardsShareCounts(t *testing.T) {
	rdb := redisClient(t)
	id := rand.Text()[:8]
	ep1, ep2 := "ep1-"+id, "ep2-"+id
	a, b, c := New(rdb, "a-"+id, quiet()), New(rdb, "b-"+id, quiet()), New(rdb, "c-"+id, quiet())
	stopA := running(t, a)
	running(t, b)
	running(t, c)

	a.Set(map[string]int{ep1: 2, ep2: 1})
	b.Set(map[string]int{ep1: 1})
	testkit.WaitFor(t, "c sees a's and b's attempts", func() bool {
		m := others(c)
		return m[ep1] == 3 && m[ep2] == 1
	})
	testkit.WaitFor(t, "a sees only b's", func() bool {
		m := others(a)
		return m[ep1] == 1 && m[ep2] == 0
	})
	a.Set(map[string]int{ep1: 1})
	testkit.WaitFor(t, "c sees a's change", func() bool {
		m := others(c)
		return m[ep1] == 2 && m[ep2] == 0
	})
	stopA()
	testkit.WaitFor(t, "a's counts are gone after its stop", func() bool { return others(c)[ep1] == 1 })
	b.Set(map[string]int{})
	testkit.WaitFor(t, "nothing is left in flight", func() bool { return len(filter(others(c), id)) == 0 })
}

// TestSilentNodeExpires: a node that stops writing without removing its counts (killed,
// or cut off from Redis) stops counting after Expiry.
func TestSilentNodeExpires(t *testing.T) {
	rdb := redisClient(t)
	id := rand.Text()[:8]
	ep := "ep-" + id
	dead, alive := New(rdb, "dead-"+id, quiet()), New(rdb, "alive-"+id, quiet())
	dead.Set(map[string]int{ep: 4})
	dead.Sync(context.Background()) // one write, then silence: no Run, no clean stop
	running(t, alive)
	testkit.WaitFor(t, "the silent node's attempts count", func() bool { return others(alive)[ep] == 4 })
	began := time.Now()
	testkit.WaitFor(t, "the silent node's attempts stop counting", func() bool { return others(alive)[ep] == 0 })
	if waited := time.Since(began); waited > 2*Expiry {
		t.Logf("took %s to expire (Expiry %s; a loaded machine)", waited, Expiry)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), keyPrefix+"dead-"+id) })
}

// TestRedisDownFallsBackToOwnCounts: while Redis does not answer, the others' counts
// are dropped (the bound is per node), which is logged once, and sharing resumes.
func TestRedisDownFallsBackToOwnCounts(t *testing.T) {
	rdb := redisClient(t)
	id := rand.Text()[:8]
	ep := "ep-" + id
	proxy := servicetest.NewFaultProxy(t, servicetest.RedisAddr(t))
	viaProxy := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = viaProxy.Close() })
	var logs testkit.SyncBuffer
	cut := New(viaProxy, "cut-"+id, slog.New(slog.NewTextHandler(&logs, nil)))
	other := New(rdb, "other-"+id, quiet())
	running(t, cut)
	running(t, other)
	other.Set(map[string]int{ep: 3})
	testkit.WaitFor(t, "the cut node sees the other's attempts", func() bool { return others(cut)[ep] == 3 })

	proxy.Refuse()
	testkit.WaitFor(t, "the cut node drops the others' counts", func() bool { return others(cut)[ep] == 0 })
	testkit.WaitFor(t, "the fallback is logged", func() bool { return strings.Contains(logs.String(), "per node until Redis answers again") })
	proxy.Heal()
	testkit.WaitFor(t, "sharing resumes", func() bool { return others(cut)[ep] == 3 })
	testkit.WaitFor(t, "the recovery is logged", func() bool { return strings.Contains(logs.String(), "cluster-wide again") })
	if n := strings.Count(logs.String(), "per node until Redis answers again"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
}

// filter keeps the counts of this test's endpoints (other tests may share Redis).
func filter(m map[string]int, id string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if strings.HasSuffix(k, id) && v != 0 {
			out[k] = v
		}
	}
	return out
}
