// Package ratelimit enforces an integration's `rate_limit { requests: N, window: W }`,
// either in one process (Local) or shared by every process that uses the same Redis key
// (Redis), and pauses calls when the upstream itself says it is out of quota.
//
// Exact semantics:
//
//   - Sliding log: a call is admitted when fewer than N calls were admitted in the last W,
//     i.e. in the half-open span (now-W, now]; a call admitted exactly W ago no longer
//     counts. So a burst of N passes at once, and no W-long span ever holds more than N
//     admitted calls. A token bucket was not used because after a burst it refills
//     gradually and admits more than N in some W-long spans.
//   - Take never blocks and never queues: it admits one call (0, nil), or admits nothing and
//     returns how long until a call may be admitted — until the call N places back leaves
//     the window, or until the pause ends, whichever is later. Errors are infrastructure
//     failures only. Wait loops Take and Clock.Sleep, but gives up at once with a
//     *LimitedError when the context's deadline would pass before the wait is over.
//   - Pause: PauseUntil(t) admits nothing before t. A later t extends a pause; an earlier t
//     never shortens one. ObserveHeaders pauses on `Retry-After` with a 429 or 503 (delay
//     seconds or an HTTP date), and when the quota header (e.g. X-RateLimit-Remaining) says
//     0: until X-RateLimit-Reset (unix seconds, or seconds from now when below 1e9), or
//     for 1 s when the reset time is absent, unreadable or already past.
//   - Redis: one Lua script does the sliding log atomically on a sorted set
//     (`<key>`, members scored by admission time in microseconds) and honours the pause key
//     (`<key>:pause`, the pause's end in unix milliseconds). Both keys expire on their own.
//     Admission uses the Redis server's clock (TIME), so processes whose clocks disagree
//     still share one exact budget; cfg.Clock is used only to turn PauseUntil's t into a
//     duration, which the script then anchors at the server's time.
package ratelimit
