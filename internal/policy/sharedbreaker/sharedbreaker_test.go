package sharedbreaker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/policy/breaker"
	"github.com/junctionhq/junction/internal/servicetest"
)

// node is one process's view: its own Redis client, Sync and breaker for "api".
type node struct {
	sync *Sync
	b    *breaker.Breaker
}

func newNode(t *testing.T, prefix string, poll time.Duration) *node {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	t.Cleanup(func() { rdb.Close() })
	s := New(Options{Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Prefix: prefix, Poll: poll})
	n := &node{sync: s}
	b, err := breaker.New(breaker.Config{
		Failures: 2, Consecutive: true, ResetAfter: 10 * time.Minute,
		OnChange: func(c breaker.Change) { s.Announce("api", c) },
	})
	if err != nil {
		t.Fatal(err)
	}
	n.b = b
	s.Register("api", b)
	s.Start()
	t.Cleanup(s.Close)
	return n
}

func prefix(t *testing.T) string {
	var id [6]byte
	_, _ = rand.Read(id[:])
	p := "junction:test:circuit:" + hex.EncodeToString(id[:]) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
		defer rdb.Close()
		rdb.Del(context.Background(), p+"api")
	})
	return p
}

func fail(t *testing.T, b *breaker.Breaker) {
	t.Helper()
	done, err := b.Allow()
	if err != nil {
		t.Fatalf("allow: %v", err)
	}
	done(false)
}

// waitState polls b until it is in want, failing after the deadline; it returns how long
// that took.
func waitState(t *testing.T, b *breaker.Breaker, want breaker.State, deadline time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for b.State() != want {
		if time.Since(start) > deadline {
			t.Fatalf("state %v after %v, want %v", b.State(), deadline, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func TestOpenAndResetPropagate(t *testing.T) {
	p := prefix(t)
	a, b := newNode(t, p, DefaultPoll), newNode(t, p, DefaultPoll)
	waitSubscribed(t, a, b)

	fail(t, a.b)
	fail(t, a.b)
	if a.b.State() != breaker.Open {
		t.Fatalf("A: %v after 2 failures", a.b.State())
	}
	d := waitState(t, b.b, breaker.Open, 30*time.Second)
	// Measured, not asserted (a loaded machine must not fail the suite): pub/sub takes
	// milliseconds, the polling fallback at most DefaultPoll.
	t.Logf("open propagated in %v", d)
	// B refuses with A's open time: about 10 minutes left.
	if _, err := b.b.Allow(); err == nil {
		t.Fatal("B allowed a call while open")
	} else if oe, ok := err.(*breaker.OpenError); !ok || oe.RetryAfter < 9*time.Minute {
		t.Fatalf("B refused with %v, want about 10m left", err)
	}

	b.b.Reset()
	d = waitState(t, a.b, breaker.Closed, 30*time.Second)
	t.Logf("reset propagated in %v", d)
	// Nothing echoes: both stay closed and a failure on A counts from zero.
	fail(t, a.b)
	if a.b.State() != breaker.Closed {
		t.Fatalf("A: %v after one failure following the reset", a.b.State())
	}
}

// A node that starts (or re-subscribes) after the transition reads it from the key.
func TestLateNodeConverges(t *testing.T) {
	p := prefix(t)
	a := newNode(t, p, DefaultPoll)
	fail(t, a.b)
	fail(t, a.b)
	// Wait for A's write to land before B exists, so B can only learn it from the key.
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	defer rdb.Close()
	deadline := time.Now().Add(30 * time.Second)
	for rdb.Exists(context.Background(), p+"api").Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("A's transition never written")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b := newNode(t, p, time.Hour) // no polling: only the read on subscription
	waitState(t, b.b, breaker.Open, 30*time.Second)
}

// Without pub/sub (a message lost), polling alone brings a node to the shared state.
func TestPollingAloneConverges(t *testing.T) {
	p := prefix(t)
	a, b := newNode(t, p, DefaultPoll), newNode(t, p, 100*time.Millisecond)
	waitSubscribed(t, a, b)
	// Write a newer closed state straight to the key, as if its message were lost.
	fail(t, a.b)
	fail(t, a.b)
	waitState(t, b.b, breaker.Open, 30*time.Second)
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	defer rdb.Close()
	val := "99999999999999999|closed|0|0|elsewhere|api"
	if err := rdb.Set(context.Background(), p+"api", val, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitState(t, b.b, breaker.Closed, 30*time.Second)
	waitState(t, a.b, breaker.Closed, 30*time.Second)
}

// Redis unreachable: the breaker keeps working locally.
func TestRedisDownStaysLocal(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	s := New(Options{Redis: rdb, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: 50 * time.Millisecond})
	b, err := breaker.New(breaker.Config{Failures: 1, Consecutive: true, ResetAfter: time.Minute,
		OnChange: func(c breaker.Change) { s.Announce("api", c) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Register("api", b)
	s.Start()
	defer s.Close()
	fail(t, b)
	if b.State() != breaker.Open {
		t.Fatalf("state %v", b.State())
	}
	b.Reset()
	if b.State() != breaker.Closed {
		t.Fatalf("state %v", b.State())
	}
}

// waitSubscribed waits until both nodes' subscriptions are counted by Redis.
func waitSubscribed(t *testing.T, nodes ...*node) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: servicetest.RedisAddr(t)})
	defer rdb.Close()
	ch := nodes[0].sync.channel
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := rdb.PubSubNumSub(context.Background(), ch).Result()
		if err == nil && n[ch] >= int64(len(nodes)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscriptions: %v %v", n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
