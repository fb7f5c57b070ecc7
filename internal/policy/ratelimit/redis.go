package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/junctionhq/junction/internal/clock"
)

// takeScript is the sliding log, run atomically by Redis so that every process sharing the
// key sees one log. Times are the server's (TIME), in microseconds: integers below 2^53, so
// Lua's doubles hold them exactly. Numbers passed back to redis.call are formatted with
// %.0f because Lua 5.1 would print them with 14 significant digits and lose microseconds.
//
// KEYS[1] sorted set of admissions (score = admission time), KEYS[2] pause key (value =
// end of the pause in unix ms). ARGV[1] requests, ARGV[2] window in µs, ARGV[3] window in
// ms rounded up (the log's TTL), ARGV[4] a member unique to this call.
// Returns {wait µs, server time µs}; wait 0 means admitted at that time.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local wait = 0
local pause = tonumber(redis.call('GET', KEYS[2]) or 0) or 0
if pause * 1000 > now then
  wait = pause * 1000 - now
end
-- An admission exactly one window old has left the window (now-W, now].
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - window))
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  -- The admission limit places back from the newest must leave before another fits.
  -- (Usually the oldest; not when the limit was lowered while the log was full.)
  local e = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  local w = tonumber(e[2]) + window - now
  if w > wait then
    wait = w
  end
end
if wait > 0 then
  return {wait, now}
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {0, now}
`)

// pauseScript extends the pause at KEYS[1] to ARGV[1] ms after the server's now, unless it
// already lasts longer. The key expires when the pause ends.
var pauseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local d = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if now + d > cur then
  redis.call('SET', KEYS[1], string.format('%.0f', now + d), 'PX', string.format('%.0f', d))
end
return 0
`)

// Redis is a sliding-log limiter shared by every process that uses the same Redis key.
//
// Admission uses the Redis server's clock, never cfg.Clock, so processes whose clocks
// disagree still share one exact budget. cfg.Clock only turns PauseUntil's t into a
// duration, which the server then counts from its own time.
type Redis struct {
	client   redis.UniversalClient
	keys     []string // the log, then the pause key
	requests int
	windowUS int64 // the window in µs, the script's time unit
	windowMS int64 // the window in ms rounded up: the log's TTL
	clk      clock.Clock
	id       string // random per limiter, so members never collide across processes
	seq      atomic.Uint64
}

// NewRedis returns a limiter for cfg whose state lives in Redis under key and key+":pause".
// With Redis Cluster (or a Ring) the key must contain a hash tag, e.g.
// "junction:ratelimit:{billing}", so that both keys live on the same node.
func NewRedis(client redis.UniversalClient, key string, cfg Config) (*Redis, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("ratelimit: nil redis client")
	}
	if key == "" {
		return nil, errors.New("ratelimit: empty redis key")
	}
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		if !hasHashTag(key) {
			return nil, fmt.Errorf("ratelimit: redis key %q needs a {hash tag} so that it and its pause key share a node", key)
		}
	}
	if cfg.Window < time.Microsecond {
		return nil, fmt.Errorf("ratelimit: window %v is below the Redis limiter's resolution of 1µs", cfg.Window)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("ratelimit: limiter id: %w", err)
	}
	return &Redis{
		client:   client,
		keys:     []string{key, key + ":pause"},
		requests: cfg.Requests,
		windowUS: cfg.Window.Microseconds(),
		windowMS: ceilMS(cfg.Window),
		clk:      cfg.Clock,
		id:       hex.EncodeToString(id),
	}, nil
}

// hasHashTag reports whether Redis Cluster would hash only part of key: a non-empty
// "{…}" after the first "{".
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

// Take admits one call now (0, nil) or returns how long until one may be admitted.
func (r *Redis) Take(ctx context.Context) (time.Duration, error) {
	wait, _, err := r.take(ctx)
	return wait, err
}

// take is Take that also returns the server time of the decision, in µs since the epoch;
// tests check the sliding-log property on these authoritative times.
func (r *Redis) take(ctx context.Context) (time.Duration, int64, error) {
	member := r.id + ":" + strconv.FormatUint(r.seq.Add(1), 36)
	res, err := takeScript.Run(ctx, r.client, r.keys,
		r.requests, r.windowUS, r.windowMS, member).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: redis key %q: %w", r.keys[0], err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("ratelimit: redis key %q: script returned %d values, want 2", r.keys[0], len(res))
	}
	return time.Duration(res[0]) * time.Microsecond, res[1], nil
}

// PauseUntil admits nothing before t, for every process sharing the key. t is measured
// against cfg.Clock and re-anchored at the server's time, so the pause lasts as long as
// asked whatever the difference between the two clocks.
func (r *Redis) PauseUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(r.clk.Now())
	if d <= 0 {
		return nil
	}
	// Rounded up: never shorter than asked.
	if err := pauseScript.Run(ctx, r.client, r.keys[1:], ceilMS(d)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis key %q: pause: %w", r.keys[1], err)
	}
	return nil
}

// ceilMS is d in whole milliseconds, rounded up, without the overflow that adding 999µs
// to a huge d would cause.
func ceilMS(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond != 0 {
		ms++
	}
	return ms
}

var _ Limiter = (*Redis)(nil)
