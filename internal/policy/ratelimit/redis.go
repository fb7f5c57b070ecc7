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

// exactLimitRedis is the largest Requests for which Redis keeps the exact sliding log: a
// sorted-set member per admission in the window, about 120 B each in Redis, so at most
// 1.2 MB per key. Above it the log would grow with Requests (100 M members would be
// 12 GB), so the bucketed window takes over.
const exactLimitRedis = 10000

// bucketsRedis is how many buckets the Redis bucketed window divides Window into, as for
// Local: refusals at most Window/1024 early, at most 1025 buckets (a sorted-set member and
// a hash field each, ~150 KB in Redis) whatever Requests is.
const bucketsRedis = 1024

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

// bucketScript is the bucketed window for Requests > exactLimitRedis, run atomically like
// takeScript, with the same units and formatting. Each admission counts as made at the
// last µs of its bucket (buckets are aligned on the epoch, so every process agrees on
// them), so it is never taken to leave the window before it really does.
//
// KEYS[1] sorted set of buckets (member = score = the bucket's last µs), KEYS[2] hash of
// admissions per bucket (field = member) plus 'n' = their total, KEYS[3] pause key.
// ARGV[1] requests, ARGV[2] window in µs, ARGV[3] TTL in ms (window plus a bucket, rounded
// up), ARGV[4] bucket width in µs. Returns {wait µs, server time µs} as takeScript does.
var bucketScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local width = tonumber(ARGV[4])
local wait = 0
local pause = tonumber(redis.call('GET', KEYS[3]) or 0) or 0
if pause * 1000 > now then
  wait = pause * 1000 - now
end
local total = tonumber(redis.call('HGET', KEYS[2], 'n')) or 0
-- A bucket whose last µs is one window old has left (now-W, now], with all its calls.
local cutoff = string.format('%.0f', now - window)
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)
for _, b in ipairs(gone) do
  total = total - (tonumber(redis.call('HGET', KEYS[2], b)) or 0)
  redis.call('HDEL', KEYS[2], b)
end
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
  redis.call('HSET', KEYS[2], 'n', string.format('%.0f', total))
end
if total >= limit then
  -- Walk from the oldest bucket until enough calls would have left for one more: the
  -- oldest alone unless the limit was lowered while the window was full.
  local left = total - limit + 1
  local i = 0
  while left > 0 do
    local e = redis.call('ZRANGE', KEYS[1], i, i, 'WITHSCORES')
    if #e == 0 then
      -- The counts outlived their buckets (deleted or evicted by someone else): start
      -- afresh, as the exact log does when its key is lost.
      redis.call('DEL', KEYS[1], KEYS[2])
      total = 0
      break
    end
    left = left - (tonumber(redis.call('HGET', KEYS[2], e[1])) or 0)
    if left <= 0 and tonumber(e[2]) + window - now > wait then
      wait = tonumber(e[2]) + window - now
    end
    i = i + 1
  end
end
if wait > 0 then
  return {wait, now}
end
local last = now - math.fmod(now, width) + width - 1
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local b
if #newest > 0 and tonumber(newest[2]) >= last then
  -- This bucket is the newest (or an earlier one is, after the server's clock went back:
  -- counting the call in the later bucket is conservative and keeps the buckets in order).
  b = newest[1]
else
  b = string.format('%.0f', last)
  redis.call('ZADD', KEYS[1], b, b)
end
redis.call('HINCRBY', KEYS[2], b, 1)
redis.call('HSET', KEYS[2], 'n', string.format('%.0f', total + 1))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
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

// Redis is a sliding-window limiter shared by every process that uses the same Redis key:
// the exact log for Requests <= exactLimitRedis, the bucketed window above (see the
// package doc).
//
// Admission uses the Redis server's clock, never cfg.Clock, so processes whose clocks
// disagree still share one budget. cfg.Clock only turns PauseUntil's t into a duration,
// which the server then counts from its own time.
type Redis struct {
	client   redis.UniversalClient
	key      string   // as given, for errors
	keys     []string // the script's keys; the pause key is always last
	script   *redis.Script
	requests int
	windowUS int64 // the window in µs, the scripts' time unit
	widthUS  int64 // the bucket width in µs; 0 for the exact log
	ttlMS    int64 // how long the state outlives the last admission, in ms rounded up
	clk      clock.Clock
	id       string // random per limiter, so log members never collide across processes
	seq      atomic.Uint64
}

// NewRedis returns a limiter for cfg whose state lives in Redis under key (the exact log,
// a sorted set) or key+":buckets" and key+":counts" (the bucketed window), and under
// key+":pause". With Redis Cluster (or a Ring) the key must contain a hash tag, e.g.
// "junction:ratelimit:{billing}", so that all of them live on the same node.
func NewRedis(client redis.UniversalClient, key string, cfg Config) (*Redis, error) {
	return newRedisLimiter(client, key, cfg, exactLimitRedis)
}

// newRedisLimiter is NewRedis with the largest Requests that keeps the exact log as a
// parameter, so that tests can run the bucketed window with a small N, and so with short
// real waits.
func newRedisLimiter(client redis.UniversalClient, key string, cfg Config, exactLimit int) (*Redis, error) {
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
			return nil, fmt.Errorf("ratelimit: redis key %q needs a {hash tag} so that all its keys share a node", key)
		}
	}
	if cfg.Window < time.Microsecond {
		return nil, fmt.Errorf("ratelimit: window %v is below the Redis limiter's resolution of 1µs", cfg.Window)
	}
	id := make([]byte, 8)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("ratelimit: limiter id: %w", err)
	}
	r := &Redis{
		client:   client,
		key:      key,
		keys:     []string{key, key + ":pause"},
		script:   takeScript,
		requests: cfg.Requests,
		windowUS: cfg.Window.Microseconds(),
		ttlMS:    ceilMS(cfg.Window),
		clk:      cfg.Clock,
		id:       hex.EncodeToString(id),
	}
	if cfg.Requests > exactLimit {
		// Distinct keys from the exact log's, so that processes configured with the two
		// schemes (during a change of the limit) do not break each other with WRONGTYPE.
		r.keys = []string{key + ":buckets", key + ":counts", key + ":pause"}
		r.script = bucketScript
		r.widthUS = ceilDiv(r.windowUS, bucketsRedis)
		// The newest bucket's admissions count until its last µs is a window old.
		r.ttlMS = ceilMS(time.Duration(r.windowUS+r.widthUS) * time.Microsecond)
	}
	return r, nil
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
// tests check the sliding-window property on these authoritative times.
func (r *Redis) take(ctx context.Context) (time.Duration, int64, error) {
	return r.result(r.eval(ctx, r.client))
}

// eval runs the limiter's script on c: the client, or a pipeline in tests that need more
// calls per second than one round trip each allows.
func (r *Redis) eval(ctx context.Context, c redis.Scripter) *redis.Cmd {
	if r.widthUS == 0 {
		member := r.id + ":" + strconv.FormatUint(r.seq.Add(1), 36)
		return r.script.Run(ctx, c, r.keys, r.requests, r.windowUS, r.ttlMS, member)
	}
	return r.script.Run(ctx, c, r.keys, r.requests, r.windowUS, r.ttlMS, r.widthUS)
}

// result reads a script's {wait µs, server time µs}.
func (r *Redis) result(cmd *redis.Cmd) (time.Duration, int64, error) {
	res, err := cmd.Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("ratelimit: redis key %q: %w", r.key, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("ratelimit: redis key %q: script returned %d values, want 2", r.key, len(res))
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
	pauseKey := r.keys[len(r.keys)-1]
	// Rounded up: never shorter than asked.
	if err := pauseScript.Run(ctx, r.client, []string{pauseKey}, ceilMS(d)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis key %q: pause: %w", pauseKey, err)
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
