package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/servicetest"
)

// newRedisClient connects to the local Redis (or skips) and returns a client and a key
// prefix no other test uses; the prefix's keys are removed when the test ends.
func newRedisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := servicetest.RedisAddr(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	suffix := make([]byte, 8)
	_, _ = rand.Read(suffix)
	prefix := "junction-test:cache:" + hex.EncodeToString(suffix) + ":"
	t.Cleanup(func() {
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = client.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("remove test keys: %v", err)
		}
		_ = client.Close()
	})
	return client, prefix
}

func TestRedisRoundTrip(t *testing.T) {
	client, prefix := newRedisClient(t)
	r := NewRedis(client, prefix, clock.NewFake(start))
	in := Entry{
		Status:   203,
		Header:   http.Header{"Content-Type": {"application/json"}, "Vary": {"Accept", "Accept-Encoding"}, "X-Quote": {"a\"b\nc"}},
		Body:     []byte("{\"a\":1}\n\x00\xff binary after a newline"),
		StoredAt: start.Add(-time.Second),
	}
	mustSet(t, r, "k", in, time.Hour, time.Hour)
	out, l := mustGet(t, r, "k")
	if l != Fresh || out.Status != in.Status || string(out.Body) != string(in.Body) || !out.StoredAt.Equal(in.StoredAt) {
		t.Errorf("round trip: %v %+v, want fresh %+v", l, out, in)
	}
	if len(out.Header) != len(in.Header) {
		t.Errorf("headers %v, want %v", out.Header, in.Header)
	}
	for k, v := range in.Header {
		if !slices.Equal(out.Header[k], v) {
			t.Errorf("header %s = %q, want %q", k, out.Header[k], v)
		}
	}

	// An empty entry and a zero StoredAt (set from the clock).
	mustSet(t, r, "empty", Entry{Status: 204}, time.Hour, 0)
	if out, l := mustGet(t, r, "empty"); l != Fresh || out.Status != 204 || out.Body != nil || out.Header != nil || !out.StoredAt.Equal(start) {
		t.Errorf("empty entry: %v %+v", l, out)
	}

	if err := r.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, l := mustGet(t, r, "k"); l != Miss {
		t.Errorf("after Delete: %v", l)
	}
	if _, l := mustGet(t, r, "never-set"); l != Miss {
		t.Errorf("unknown key: %v", l)
	}
}

func TestRedisFreshStaleByClock(t *testing.T) {
	client, prefix := newRedisClient(t)
	clk := clock.NewFake(start)
	r := NewRedis(client, prefix, clk)
	// Real expiry is an hour and ten seconds away: only the fake clock moves here.
	mustSet(t, r, "k", entry("x"), 10*time.Second, time.Hour)
	if _, l := mustGet(t, r, "k"); l != Fresh {
		t.Errorf("right after Set: %v", l)
	}
	clk.Advance(10 * time.Second)
	if e, l := mustGet(t, r, "k"); l != Stale || string(e.Body) != "x" {
		t.Errorf("at the TTL: %v %q, want stale", l, e.Body)
	}
	clk.Advance(time.Hour)
	if _, l := mustGet(t, r, "k"); l != Miss {
		t.Errorf("after the stale period by the clock: %v, want miss", l)
	}
}

func TestRedisExpiresByPX(t *testing.T) {
	client, prefix := newRedisClient(t)
	r := NewRedis(client, prefix, clock.NewFake(start))

	// PX covers the stale period: ttl+keepStale, not just ttl.
	mustSet(t, r, "long", entry("x"), time.Hour, time.Hour)
	pttl, err := client.PTTL(ctx, prefix+"long").Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= time.Hour || pttl > 2*time.Hour {
		t.Errorf("PTTL = %v, want just under 2h", pttl)
	}

	// Redis removes the key by itself, however the injected clock stands. Only presence
	// and absence are checked: the wait is as long as Redis takes.
	mustSet(t, r, "short", entry("x"), 20*time.Millisecond, 30*time.Millisecond)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := client.Exists(ctx, prefix+"short").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key with PX 50ms still present after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, l := mustGet(t, r, "short"); l != Miss {
		t.Errorf("expired key: %v, want miss", l)
	}

	// No lifetime: nothing is stored and an existing entry is removed.
	mustSet(t, r, "long", entry("y"), 0, 0)
	if n, _ := client.Exists(ctx, prefix+"long").Result(); n != 0 {
		t.Error("Set with no lifetime left the key")
	}
}

func TestRedisSharedBetweenClients(t *testing.T) {
	clientA, prefix := newRedisClient(t)
	clientB := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	defer clientB.Close()
	clk := clock.NewFake(start)
	a, b := NewRedis(clientA, prefix, clk), NewRedis(clientB, prefix, clk)

	mustSet(t, a, "k", entry("from a"), time.Hour, 0)
	if e, l := mustGet(t, b, "k"); l != Fresh || string(e.Body) != "from a" {
		t.Errorf("b sees %v %q, want a's entry", l, e.Body)
	}
	mustSet(t, b, "k", entry("from b"), time.Hour, 0)
	if e, _ := mustGet(t, a, "k"); string(e.Body) != "from b" {
		t.Errorf("a sees %q after b replaced it", e.Body)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, l := mustGet(t, a, "k"); l != Miss {
		t.Errorf("a sees %v after b deleted it", l)
	}
	// A different prefix is a different cache.
	other := NewRedis(clientB, prefix+"other:", clk)
	mustSet(t, a, "k", entry("x"), time.Hour, 0)
	if _, l := mustGet(t, other, "k"); l != Miss {
		t.Errorf("another prefix sees %v", l)
	}
}

func TestRedisCorruptEntry(t *testing.T) {
	client, prefix := newRedisClient(t)
	r := NewRedis(client, prefix, clock.NewFake(start))
	for key, val := range map[string]string{
		"no-newline":  "garbage",
		"bad-json":    "{nope\nbody",
		"new-version": `{"v":99}` + "\nbody",
	} {
		if err := client.Set(ctx, prefix+key, val, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		if _, l, err := r.Get(ctx, key); err == nil || l != Miss {
			t.Errorf("%s: %v, %v; want a miss with an error", key, l, err)
		}
	}
}

func TestRedisErrorsAreWrapped(t *testing.T) {
	// A cancelled context fails every operation before any network traffic; the error
	// must say where it came from and still match the cause.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	r := NewRedis(client, "x:", clock.NewFake(start))
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, l, err := r.Get(done, "k"); !errors.Is(err, context.Canceled) || l != Miss || !strings.HasPrefix(err.Error(), "cache: redis get") {
		t.Errorf("Get: %v, %v", l, err)
	}
	if err := r.Set(done, "k", entry("x"), time.Hour, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Set: %v", err)
	}
	if err := r.Delete(done, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete: %v", err)
	}
}
