package cache

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

var ctx = context.Background()

func entry(body string) Entry {
	return Entry{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)}
}

// mustGet returns key's entry and lookup, failing the test on an error.
func mustGet(t *testing.T, c Cache, key string) (Entry, Lookup) {
	t.Helper()
	e, l, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e, l
}

func mustSet(t *testing.T, c Cache, key string, e Entry, ttl, keepStale time.Duration) {
	t.Helper()
	if err := c.Set(ctx, key, e, ttl, keepStale); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func TestMemoryFreshStaleGone(t *testing.T) {
	clk := clock.NewFake(start)
	m := NewMemory(10, 0, clk)
	mustSet(t, m, "k", entry(`{"a":1}`), 10*time.Second, time.Minute)

	e, l := mustGet(t, m, "k")
	if l != Fresh || string(e.Body) != `{"a":1}` || e.Status != 200 || !e.StoredAt.Equal(start) {
		t.Fatalf("right after Set: %v %+v", l, e)
	}
	clk.Advance(10*time.Second - time.Nanosecond)
	if _, l := mustGet(t, m, "k"); l != Fresh {
		t.Errorf("just before the TTL: %v, want fresh", l)
	}
	clk.Advance(time.Nanosecond)
	if e, l := mustGet(t, m, "k"); l != Stale || string(e.Body) != `{"a":1}` {
		t.Errorf("at the TTL: %v %q, want the stale copy", l, e.Body)
	}
	clk.Advance(time.Minute)
	if _, l := mustGet(t, m, "k"); l != Miss {
		t.Errorf("after the stale period: %v, want miss", l)
	}
	if m.Len() != 0 || m.Bytes() != 0 {
		t.Errorf("expired entry still held: %d entries, %d bytes", m.Len(), m.Bytes())
	}
}

func TestMemoryNoStalePeriod(t *testing.T) {
	clk := clock.NewFake(start)
	m := NewMemory(10, 0, clk)
	mustSet(t, m, "k", entry("x"), time.Second, 0)
	clk.Advance(time.Second)
	if _, l := mustGet(t, m, "k"); l != Miss {
		t.Errorf("without keepStale: %v after the TTL, want miss", l)
	}
	// Nothing to keep at all: the previous entry goes too.
	mustSet(t, m, "k", entry("x"), time.Hour, 0)
	mustSet(t, m, "k", entry("y"), 0, 0)
	if _, l := mustGet(t, m, "k"); l != Miss || m.Len() != 0 {
		t.Errorf("Set with no lifetime: %v, %d entries; want nothing stored", l, m.Len())
	}
	// A zero TTL with a stale period stores a copy that is only good for fallback.
	mustSet(t, m, "k", entry("z"), 0, time.Hour)
	if _, l := mustGet(t, m, "k"); l != Stale {
		t.Errorf("ttl 0, keepStale 1h: %v, want stale", l)
	}
}

func TestMemoryEvictsByCount(t *testing.T) {
	m := NewMemory(2, 0, clock.NewFake(start))
	mustSet(t, m, "a", entry("a"), time.Hour, 0)
	mustSet(t, m, "b", entry("b"), time.Hour, 0)
	mustGet(t, m, "a") // a is now more recently used than b
	mustSet(t, m, "c", entry("c"), time.Hour, 0)
	for key, want := range map[string]Lookup{"a": Fresh, "b": Miss, "c": Fresh} {
		if _, l := mustGet(t, m, key); l != want {
			t.Errorf("%s: %v, want %v", key, l, want)
		}
	}
	if m.Len() != 2 {
		t.Errorf("Len = %d, want 2", m.Len())
	}
}

func TestMemoryEvictsByBytes(t *testing.T) {
	m := NewMemory(100, 10, clock.NewFake(start))
	mustSet(t, m, "a", entry("aaaa"), time.Hour, 0)
	mustSet(t, m, "b", entry("bbbb"), time.Hour, 0)
	mustSet(t, m, "c", entry("cccc"), time.Hour, 0) // 12 bytes: a, the oldest, goes
	if _, l := mustGet(t, m, "a"); l != Miss {
		t.Errorf("a: %v, want evicted", l)
	}
	if m.Bytes() != 8 || m.Len() != 2 {
		t.Errorf("after eviction: %d bytes in %d entries, want 8 in 2", m.Bytes(), m.Len())
	}

	// Replacing an entry counts the new body, not both.
	mustSet(t, m, "b", entry("bb"), time.Hour, 0)
	if m.Bytes() != 6 {
		t.Errorf("after replacing b: %d bytes, want 6", m.Bytes())
	}
	// b was used last, so c (4 bytes) goes for d (8).
	mustSet(t, m, "d", entry("dddddddd"), time.Hour, 0)
	if _, l := mustGet(t, m, "c"); l != Miss || m.Bytes() != 10 || m.Len() != 2 {
		t.Errorf("after an 8-byte entry: c %v, %d bytes in %d entries; want c evicted, 10 bytes in 2", l, m.Bytes(), m.Len())
	}
	// One large entry can push out several.
	mustSet(t, m, "e", entry("eeeeeeeeee"), time.Hour, 0)
	if m.Bytes() != 10 || m.Len() != 1 {
		t.Errorf("after a 10-byte entry: %d bytes in %d entries, want 10 in 1", m.Bytes(), m.Len())
	}

	err := m.Set(ctx, "e", entry(strings.Repeat("x", 11)), time.Hour, 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("11-byte body in a 10-byte cache: %v, want ErrTooLarge", err)
	}
	if _, l := mustGet(t, m, "e"); l != Miss || m.Bytes() != 0 {
		t.Errorf("after a refused Set: %v, %d bytes; want the outdated entry gone", l, m.Bytes())
	}
}

func TestMemoryCopies(t *testing.T) {
	m := NewMemory(10, 0, clock.NewFake(start))
	in := entry("original")
	mustSet(t, m, "k", in, time.Hour, 0)
	in.Body[0] = 'X'
	in.Header.Set("Content-Type", "text/evil")

	out, _ := mustGet(t, m, "k")
	out.Body[0] = 'Y'
	out.Header.Add("Set-Cookie", "x")
	out.Header["Content-Type"][0] = "text/worse"

	again, _ := mustGet(t, m, "k")
	if string(again.Body) != "original" || len(again.Header) != 1 || again.Header.Get("Content-Type") != "application/json" {
		t.Errorf("cache changed by its callers: %q %v", again.Body, again.Header)
	}
}

func TestMemoryDelete(t *testing.T) {
	m := NewMemory(10, 100, clock.NewFake(start))
	mustSet(t, m, "k", entry("abc"), time.Hour, time.Hour)
	if err := m.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, l := mustGet(t, m, "k"); l != Miss || m.Bytes() != 0 {
		t.Errorf("after Delete: %v, %d bytes", l, m.Bytes())
	}
	if err := m.Delete(ctx, "absent"); err != nil {
		t.Errorf("deleting an absent key: %v", err)
	}
}

func TestMemoryKeepsStoredAt(t *testing.T) {
	m := NewMemory(10, 0, clock.NewFake(start))
	at := start.Add(-time.Minute)
	e := entry("x")
	e.StoredAt = at
	mustSet(t, m, "k", e, time.Hour, 0)
	if got, _ := mustGet(t, m, "k"); !got.StoredAt.Equal(at) {
		t.Errorf("StoredAt = %v, want %v", got.StoredAt, at)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	m := NewMemory(8, 64, clock.NewFake(start))
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				key := string(rune('a' + (g+i)%12))
				switch i % 3 {
				case 0:
					_ = m.Set(ctx, key, entry(strings.Repeat("x", i%20)), time.Hour, 0)
				case 1:
					_, _, _ = m.Get(ctx, key)
				default:
					_ = m.Delete(ctx, key)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	if m.Len() > 8 || m.Bytes() > 64 {
		t.Errorf("bounds broken: %d entries, %d bytes", m.Len(), m.Bytes())
	}
	// The byte count must match what is actually held.
	var sum int64
	for _, k := range m.lru.Keys() {
		v, _ := m.lru.Peek(k)
		sum += int64(len(v.e.Body))
	}
	if sum != m.Bytes() {
		t.Errorf("byte count %d, bodies held %d", m.Bytes(), sum)
	}
}

func TestLookupString(t *testing.T) {
	for l, want := range map[Lookup]string{Miss: "miss", Fresh: "fresh", Stale: "stale", 7: "Lookup(7)"} {
		if l.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(l), l.String(), want)
		}
	}
}

func BenchmarkMemoryGetHit(b *testing.B) {
	m := NewMemory(1000, 0, clock.NewFake(start))
	body := bytes.Repeat([]byte("x"), 1024)
	if err := m.Set(ctx, "k", Entry{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: body}, time.Hour, 0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, l, _ := m.Get(ctx, "k"); l != Fresh {
			b.Fatal(l)
		}
	}
}
