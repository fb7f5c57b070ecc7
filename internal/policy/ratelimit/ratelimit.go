package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

// Limiter admits calls under a rate limit.
type Limiter interface {
	// Take admits one call now (returns 0, nil) or, when none may go now, takes nothing and
	// returns how long until one may (the caller decides whether to wait and try again or
	// to give up with 429). Errors are infrastructure failures (Redis down).
	Take(ctx context.Context) (wait time.Duration, err error)
	// PauseUntil stops admitting calls until t (the upstream asked us to); a later t extends,
	// an earlier one never shortens an existing pause.
	PauseUntil(ctx context.Context, t time.Time) error
}

// Config is a rate limit: at most Requests calls in any Window-long span.
type Config struct {
	Requests int
	Window   time.Duration
	Clock    clock.Clock // default clock.Real{}
}

func (c *Config) validate() error {
	if c.Requests < 1 {
		return fmt.Errorf("ratelimit: requests must be at least 1, got %d", c.Requests)
	}
	if c.Window <= 0 {
		return fmt.Errorf("ratelimit: window must be positive, got %v", c.Window)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	return nil
}

// ErrLimited is what a call refused by the rate limit fails with; the error returned is a
// *LimitedError that wraps it.
var ErrLimited = errors.New("rate limited")

// LimitedError is returned by Wait when the wait would last longer than allowed.
type LimitedError struct {
	RetryAfter time.Duration // how long until a call would have been admitted
}

// Error says that the call was rate limited and when it may be retried.
func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %v", e.RetryAfter)
}

// Unwrap makes errors.Is(err, ErrLimited) hold.
func (e *LimitedError) Unwrap() error { return ErrLimited }

// Wait loops Take/Sleep until admitted, but only while that takes at most maxWait in all
// (maxWait <= 0: no bound of its own) and ends before ctx's deadline: when the next wait
// would go past either, it returns *LimitedError (errors.Is(err, ErrLimited); RetryAfter
// = that wait) at once, without sleeping. A call that cannot go soon is refused soon, so
// its caller can answer 429 with Retry-After instead of holding the request for a window.
//
// The deadline is compared with c.Now(), so c must be the clock the deadline was set
// against (clock.Real{} in production).
func Wait(ctx context.Context, l Limiter, c clock.Clock, maxWait time.Duration) error {
	var budgetEnd time.Time
	if maxWait > 0 {
		budgetEnd = c.Now().Add(maxWait)
	}
	for {
		wait, err := l.Take(ctx)
		if err != nil {
			return err
		}
		if wait <= 0 {
			return nil
		}
		end := c.Now().Add(wait)
		if !budgetEnd.IsZero() && end.After(budgetEnd) {
			return &LimitedError{RetryAfter: wait}
		}
		// Sleeping until (or past) the deadline only to fail then would hold the caller's
		// goroutine and slot for nothing; failing now lets it answer 429 with Retry-After.
		if dl, ok := ctx.Deadline(); ok && !end.Before(dl) {
			return &LimitedError{RetryAfter: wait}
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return fmt.Errorf("ratelimit: waiting %v for the rate limit: %w", wait, err)
		}
	}
}

// DefaultResetHeader carries when the upstream's quota is replenished.
const DefaultResetHeader = "X-RateLimit-Reset"

// resetFallback is the pause when the quota is exhausted but its reset time is unknown:
// long enough to stop hammering the upstream, short enough not to strand callers.
const resetFallback = time.Second

// unixThreshold separates reset values given as unix seconds (2001 onwards) from values
// given as seconds from now.
const unixThreshold = 1e9

// ObserveHeaders reads the upstream's answer and pauses the limiter when it says so:
// `Retry-After` on 429 or 503 (seconds or HTTP date) → PauseUntil(now+that);
// remaining header (name given, e.g. "X-RateLimit-Remaining") == 0 → PauseUntil the reset
// time from `X-RateLimit-Reset` (unix seconds, or seconds-from-now when small, < 1e9) or,
// when absent, now + 1s. Returns the pause applied (0 if none).
//
// When both apply, the longer pause wins. The reset header is looked up first by the
// remaining header's own prefix ("RateLimit-Remaining" → "RateLimit-Reset"), then as
// X-RateLimit-Reset. A reset time that is unreadable or already past counts as absent,
// since the upstream still said the quota is 0.
func ObserveHeaders(ctx context.Context, l Limiter, c clock.Clock, status int, h http.Header, remainingHeader string) (time.Duration, error) {
	now := c.Now()
	var pause time.Duration
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		if d, ok := ParseRetryAfter(h.Get("Retry-After"), now); ok {
			pause = d
		}
	}
	if remainingHeader != "" && quotaExhausted(h.Get(remainingHeader)) {
		d := resetDelay(h, remainingHeader, now)
		if d <= 0 {
			d = resetFallback
		}
		pause = max(pause, d)
	}
	if pause <= 0 {
		return 0, nil
	}
	if err := l.PauseUntil(ctx, now.Add(pause)); err != nil {
		return 0, fmt.Errorf("ratelimit: pausing for %v as the upstream asked: %w", pause, err)
	}
	return pause, nil
}

// quotaExhausted reports whether a remaining-quota value says 0 (or less). Lists such as
// the IETF draft's "0, 100;w=60" are read by their first item.
func quotaExhausted(v string) bool {
	if i := strings.IndexAny(v, ",;"); i >= 0 {
		v = v[:i]
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return false
	}
	n, err := strconv.ParseFloat(v, 64)
	return err == nil && n <= 0
}

func resetDelay(h http.Header, remainingHeader string, now time.Time) time.Duration {
	v := ""
	if prefix, ok := cutSuffixFold(remainingHeader, "Remaining"); ok {
		v = h.Get(prefix + "Reset")
	}
	if v == "" {
		v = h.Get(DefaultResetHeader)
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return 0
	}
	if f < unixThreshold {
		return secondsToDuration(f)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).Sub(now)
}

func cutSuffixFold(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix) {
		return s[:len(s)-len(suffix)], true
	}
	return "", false
}

// maxSeconds keeps conversions to time.Duration from overflowing (about 292 years).
const maxSeconds = float64(math.MaxInt64 / int64(time.Second))

func secondsToDuration(s float64) time.Duration {
	if s >= maxSeconds {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s * float64(time.Second))
}

// ParseRetryAfter reads a Retry-After value: delay seconds (a non-negative integer) or an
// HTTP date, which yields the time from now until then (0 when it is past). ok is false
// for an empty or unreadable value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return time.Duration(math.MaxInt64), true
			}
			return 0, false
		}
		return secondsToDuration(float64(n)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
