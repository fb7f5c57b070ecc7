package cache

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/junctionhq/junction/internal/clock"
)

// Memory is an in-process Cache: an LRU bounded by the number of entries and by the total
// size of their bodies. It is safe for concurrent use.
type Memory struct {
	clock    clock.Clock
	maxBytes int64 // 0: no byte bound

	// mu guards lru and bytes. simplelru rather than the locking lru.Cache, because the
	// byte count has to change together with the list under one lock.
	mu    sync.Mutex
	lru   *simplelru.LRU[string, *memEntry]
	bytes int64 // sum of len(Body) over the entries in lru
}

type memEntry struct {
	e                      Entry
	freshUntil, staleUntil time.Time
}

var _ Cache = (*Memory)(nil)

// NewMemory returns an empty Memory holding at most maxEntries entries and maxBytes bytes
// of bodies; a bound of 0 or less means no bound of that kind. A nil c means clock.Real.
func NewMemory(maxEntries int, maxBytes int64, c clock.Clock) *Memory {
	if c == nil {
		c = clock.Real{}
	}
	if maxEntries <= 0 {
		maxEntries = math.MaxInt
	}
	m := &Memory{clock: c, maxBytes: max(maxBytes, 0)}
	// The callback runs for every removal (eviction, Remove, RemoveOldest), always under
	// m.mu, so it is the one place the byte count goes down.
	l, err := simplelru.NewLRU(maxEntries, func(_ string, v *memEntry) { m.bytes -= int64(len(v.e.Body)) })
	if err != nil {
		panic(err) // unreachable: the size is positive
	}
	m.lru = l
	return m
}

// Get returns a copy of key's entry and whether it is fresh or stale. An entry past its
// stale period is removed.
func (m *Memory) Get(_ context.Context, key string) (Entry, Lookup, error) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.lru.Get(key)
	if !ok {
		return Entry{}, Miss, nil
	}
	l := lookup(now, v.freshUntil, v.staleUntil)
	if l == Miss {
		m.lru.Remove(key)
		return Entry{}, Miss, nil
	}
	return v.e.clone(), l, nil
}

// Set stores a copy of e, evicting the least recently used entries as needed. It returns
// an error wrapping ErrTooLarge, and removes key's previous entry, when e's body alone
// exceeds the byte bound.
func (m *Memory) Set(_ context.Context, key string, e Entry, ttl, keepStale time.Duration) error {
	now := m.clock.Now()
	fresh, total := lifetimes(ttl, keepStale)
	size := int64(len(e.Body))
	m.mu.Lock()
	defer m.mu.Unlock()
	// Whatever happens below, the previous value for key is outdated.
	m.lru.Remove(key)
	if total <= 0 {
		return nil
	}
	if m.maxBytes > 0 && size > m.maxBytes {
		return fmt.Errorf("%w: body of %d bytes, bound %d bytes", ErrTooLarge, size, m.maxBytes)
	}
	e = e.clone()
	if e.StoredAt.IsZero() {
		e.StoredAt = now
	}
	m.lru.Add(key, &memEntry{e: e, freshUntil: now.Add(fresh), staleUntil: now.Add(total)})
	m.bytes += size
	// The new entry is the most recent and fits on its own, so this stops before it.
	for m.maxBytes > 0 && m.bytes > m.maxBytes {
		m.lru.RemoveOldest()
	}
	return nil
}

// Delete removes key's entry.
func (m *Memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(key)
	return nil
}

// Len returns the number of entries held, including stale and not yet removed expired ones.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// Bytes returns the total size of the bodies held.
func (m *Memory) Bytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}
