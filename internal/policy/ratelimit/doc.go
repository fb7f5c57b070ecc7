// Package ratelimit enforces an integration's `rate_limit { requests: N, window: W }`,
// either in one process (Local) or shared by every process that uses the same Redis key
// (Redis), and pauses calls when the upstream itself says it is out of quota.
//
// Exact semantics:
//
//   - Sliding window: a call is admitted when fewer than N admitted calls count in the
//     window now. A burst of N passes at once, and no W-long span ever holds more than N
//     admitted calls. A token bucket was not used because after a burst it refills
//     gradually and admits more than N in some W-long spans. Which calls count depends on
//     N, so that memory stays bounded however large N is ("effectively unlimited" limits
//     such as 100 M per second are legal):
//   - Exact log, for N <= 4096 (Local) or N <= 10000 (Redis): a call counts while it was
//     admitted in the half-open span (now-W, now]; one admitted exactly W ago no longer
//     counts. Memory grows with the calls in the window, up to N: 16 B each in Local
//     (64 KiB at most), a sorted-set member of about 120 B each in Redis (1.2 MB at most).
//   - Bucketed window, for larger N: W is divided into 1024 buckets of width
//     w = ceil(W/1024) (in ns for Local, aligned on the limiter's creation; in µs for Redis,
//     aligned on the Unix epoch so that every process agrees), and a call counts as if it
//     had been admitted at the last instant of its bucket, i.e. while that instant is in
//     (now-W, now]. Since no call counts for less time than in the exact log, the promise
//     above still holds, and a burst of N still passes at once; but a call may count for up
//     to w-1 longer, so a refusal can come at most one bucket width (0.1 % of W) before the
//     exact log would refuse, and its wait is at most w-1 longer. Memory is at most 1025
//     buckets whatever N: 16 KiB in Local, about 150 KB in Redis.
//   - Take never blocks and never queues: it admits one call (0, nil), or admits nothing and
//     returns how long until a call may be admitted — until enough counted calls have left
//     the window for one more (in the exact log, the call N places back; in the bucketed
//     window, the oldest bucket), or until the pause ends, whichever is later. That wait is
//     exact for the scheme: a Take when it is over is admitted unless another call took the
//     place. Errors are infrastructure failures only. Wait loops Take and Clock.Sleep, but
//     gives up at once with a *LimitedError when the wait would take it past its maxWait
//     (in all, since Wait began) or the context's deadline would pass before the wait is
//     over.
//   - Pause: PauseUntil(t) admits nothing before t. A later t extends a pause; an earlier t
//     never shortens one. ObserveHeaders pauses on `Retry-After` with a 429 or 503 (delay
//     seconds or an HTTP date), and when the quota header (e.g. X-RateLimit-Remaining) says
//     0: until X-RateLimit-Reset (unix seconds, or seconds from now when below 1e9), or
//     for 1 s when the reset time is absent, unreadable or already past.
//   - Redis: one Lua script per scheme runs the window atomically and honours the pause key
//     (`<key>:pause`, the pause's end in unix milliseconds). The exact log is a sorted set
//     `<key>` (members scored by admission time in µs); the bucketed window is a sorted set
//     `<key>:buckets` (each bucket's last µs) and a hash `<key>:counts` (calls per bucket,
//     and their total). All keys expire on their own, a window (plus a bucket) after the
//     last admission. The two schemes use different keys, so processes that disagree about
//     N across the 10000 line (during a change of the limit) each keep their own budget
//     instead of failing. Admission uses the Redis server's clock (TIME), so processes
//     whose clocks disagree still share one budget; a step of the server's clock moves the
//     window by as much. cfg.Clock is used only to turn PauseUntil's t into a duration,
//     which the script then anchors at the server's time.
package ratelimit
