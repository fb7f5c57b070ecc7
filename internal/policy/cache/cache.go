package cache

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Entry is one cached response.
type Entry struct {
	Status   int
	Header   http.Header // the caller chooses which headers to keep
	Body     []byte
	StoredAt time.Time
}

// clone returns a deep copy of e, so that the cache and its callers never share the
// mutable parts.
func (e Entry) clone() Entry {
	e.Header = e.Header.Clone()
	e.Body = bytes.Clone(e.Body)
	return e
}

// Lookup is what Get found.
type Lookup int

// The results of Get.
const (
	Miss  Lookup = iota // no entry, or its stale period is over
	Fresh               // within its TTL: serve it instead of calling the upstream
	Stale               // past its TTL but kept: only for fallback when the upstream fails
)

func (l Lookup) String() string {
	switch l {
	case Miss:
		return "miss"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	}
	return "Lookup(" + strconv.Itoa(int(l)) + ")"
}

// Cache stores entries by a key the caller computes.
type Cache interface {
	// Get returns the entry for key and whether it is fresh or stale; Miss when there is
	// none. An error means the cache could not answer (the entry is then a Miss).
	Get(ctx context.Context, key string) (Entry, Lookup, error)
	// Set stores e: Fresh for ttl, then Stale for keepStale, then gone.
	Set(ctx context.Context, key string, e Entry, ttl, keepStale time.Duration) error
	// Delete removes key's entry, if any.
	Delete(ctx context.Context, key string) error
}

// ErrTooLarge is returned by Memory.Set for an entry whose body alone exceeds the cache's
// byte bound: storing it would evict everything else and then itself.
var ErrTooLarge = errors.New("cache: entry larger than the cache")

// lifetimes returns the non-negative ttl and the total lifetime ttl+keepStale, saturating
// instead of overflowing for absurdly long settings.
func lifetimes(ttl, keepStale time.Duration) (fresh, total time.Duration) {
	ttl, keepStale = max(ttl, 0), max(keepStale, 0)
	if keepStale > math.MaxInt64-ttl {
		return ttl, math.MaxInt64
	}
	return ttl, ttl + keepStale
}

// lookup classifies an entry by the time now.
func lookup(now, freshUntil, staleUntil time.Time) Lookup {
	switch {
	case now.Before(freshUntil):
		return Fresh
	case now.Before(staleUntil):
		return Stale
	}
	return Miss
}
