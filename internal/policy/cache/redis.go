package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
)

// Redis is a Cache shared by every node that uses the same Redis and prefix.
//
// A value is a JSON line of metadata (format version, status, headers, and the stored-at,
// fresh-until and stale-until instants in Unix nanoseconds), a newline, and the raw body:
// JSON keeps the metadata readable in redis-cli and extensible, and the body stays
// unencoded (base64 in JSON would add a third to every cached body). json.Marshal escapes
// newlines in strings, so the first newline always ends the metadata. The key expires
// after ttl+keepStale (PX), so Redis itself discards entries whose stale period is over.
type Redis struct {
	client redis.UniversalClient
	prefix string
	clock  clock.Clock
}

var _ Cache = (*Redis)(nil)

// NewRedis returns a Cache storing entries under prefix+key in client. A nil c means
// clock.Real.
func NewRedis(client redis.UniversalClient, prefix string, c clock.Clock) *Redis {
	if c == nil {
		c = clock.Real{}
	}
	return &Redis{client: client, prefix: prefix, clock: c}
}

// redisFormat is the metadata format version; a reader rejects versions it does not know
// rather than misreading them, which matters while nodes of two releases share a Redis.
const redisFormat = 1

type redisMeta struct {
	Version    int         `json:"v"`
	Status     int         `json:"status"`
	Header     http.Header `json:"header,omitempty"`
	StoredAt   int64       `json:"stored_at"`
	FreshUntil int64       `json:"fresh_until"`
	StaleUntil int64       `json:"stale_until"`
}

// Get returns key's entry and whether it is fresh or stale by the injected clock.
func (r *Redis) Get(ctx context.Context, key string) (Entry, Lookup, error) {
	raw, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, Miss, nil
	}
	if err != nil {
		return Entry{}, Miss, fmt.Errorf("cache: redis get: %w", err)
	}
	e, freshUntil, staleUntil, err := decodeEntry(raw)
	if err != nil {
		return Entry{}, Miss, fmt.Errorf("cache: redis entry %q: %w", r.prefix+key, err)
	}
	l := lookup(r.clock.Now(), freshUntil, staleUntil)
	if l == Miss {
		return Entry{}, Miss, nil
	}
	return e, l, nil
}

// Set stores e under key, expiring after ttl+keepStale.
func (r *Redis) Set(ctx context.Context, key string, e Entry, ttl, keepStale time.Duration) error {
	fresh, total := lifetimes(ttl, keepStale)
	if total <= 0 {
		return r.Delete(ctx, key)
	}
	now := r.clock.Now()
	if e.StoredAt.IsZero() {
		e.StoredAt = now
	}
	val, err := encodeEntry(e, now.Add(fresh), now.Add(total))
	if err != nil {
		return fmt.Errorf("cache: encode entry: %w", err)
	}
	// Redis counts in milliseconds; round up so the key never expires before the stale
	// period ends.
	px := total.Truncate(time.Millisecond)
	if px < total && px <= math.MaxInt64-time.Millisecond {
		px += time.Millisecond
	}
	if err := r.client.Set(ctx, r.prefix+key, val, px).Err(); err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	return nil
}

// Delete removes key's entry.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.client.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("cache: redis del: %w", err)
	}
	return nil
}

func encodeEntry(e Entry, freshUntil, staleUntil time.Time) ([]byte, error) {
	meta, err := json.Marshal(redisMeta{
		Version:    redisFormat,
		Status:     e.Status,
		Header:     e.Header,
		StoredAt:   e.StoredAt.UnixNano(),
		FreshUntil: freshUntil.UnixNano(),
		StaleUntil: staleUntil.UnixNano(),
	})
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, len(meta)+1+len(e.Body))
	buf = append(buf, meta...)
	buf = append(buf, '\n')
	return append(buf, e.Body...), nil
}

func decodeEntry(raw []byte) (e Entry, freshUntil, staleUntil time.Time, err error) {
	metaJSON, body, ok := bytes.Cut(raw, []byte{'\n'})
	if !ok {
		return Entry{}, time.Time{}, time.Time{}, errors.New("no metadata line")
	}
	var m redisMeta
	if err := json.Unmarshal(metaJSON, &m); err != nil {
		return Entry{}, time.Time{}, time.Time{}, fmt.Errorf("metadata: %w", err)
	}
	if m.Version != redisFormat {
		return Entry{}, time.Time{}, time.Time{}, fmt.Errorf("format version %d, want %d", m.Version, redisFormat)
	}
	if len(body) == 0 {
		body = nil
	}
	// raw is a fresh buffer from the client, so body needs no copy.
	e = Entry{Status: m.Status, Header: m.Header, Body: body, StoredAt: time.Unix(0, m.StoredAt)}
	return e, time.Unix(0, m.FreshUntil), time.Unix(0, m.StaleUntil), nil
}
