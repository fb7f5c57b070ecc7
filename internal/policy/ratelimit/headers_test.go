package ratelimit

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(1994, 11, 6, 8, 49, 0, 0, time.UTC)
	for _, c := range []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"99999999999999999999999", math.MaxInt64, true},           // absurd but unambiguous: "a long time"
		{"Sun, 06 Nov 1994 08:49:37 GMT", 37 * time.Second, true},  // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", 37 * time.Second, true}, // obsolete RFC 850
		{"Sun Nov  6 08:49:37 1994", 37 * time.Second, true},       // obsolete asctime
		{"Sun, 06 Nov 1994 08:48:00 GMT", 0, true},                 // past: no wait
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"12abc", 0, false},
	} {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.wantOK)
		}
	}
}

func TestObserveHeaders(t *testing.T) {
	unix := func(d time.Duration) string { return strconv.FormatInt(start.Add(d).Unix(), 10) }
	for _, c := range []struct {
		name      string
		status    int
		headers   map[string]string
		remaining string // the remaining header's name given to ObserveHeaders
		want      time.Duration
	}{
		{"429 Retry-After seconds", 429, map[string]string{"Retry-After": "30"}, "", 30 * time.Second},
		{"503 Retry-After HTTP date", 503, map[string]string{"Retry-After": start.Add(90 * time.Second).Format(http.TimeFormat)}, "", 90 * time.Second},
		{"Retry-After ignored on 200", 200, map[string]string{"Retry-After": "30"}, "", 0},
		{"Retry-After ignored on 500", 500, map[string]string{"Retry-After": "30"}, "", 0},
		{"429 Retry-After in the past", 429, map[string]string{"Retry-After": start.Add(-time.Hour).Format(http.TimeFormat)}, "", 0},
		{"429 unreadable Retry-After", 429, map[string]string{"Retry-After": "later"}, "", 0},
		{"remaining 0, reset unix seconds", 200,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": unix(45 * time.Second)}, "X-RateLimit-Remaining", 45 * time.Second},
		{"remaining 0, reset seconds from now", 200,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, "X-RateLimit-Remaining", 20 * time.Second},
		{"remaining 0, no reset: 1s", 200,
			map[string]string{"X-RateLimit-Remaining": "0"}, "X-RateLimit-Remaining", time.Second},
		{"remaining 0, reset already past: 1s", 200,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": unix(-time.Minute)}, "X-RateLimit-Remaining", time.Second},
		{"remaining 0, unreadable reset: 1s", 200,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "tomorrow"}, "X-RateLimit-Remaining", time.Second},
		{"remaining 5: no pause", 200,
			map[string]string{"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "20"}, "X-RateLimit-Remaining", 0},
		{"remaining 0 but no header configured", 200,
			map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, "", 0},
		{"custom remaining header, reset by the same prefix", 200,
			map[string]string{"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}, "RateLimit-Remaining", 7 * time.Second},
		{"custom remaining header, X-RateLimit-Reset fallback", 200,
			map[string]string{"X-Quota-Left": "0", "X-RateLimit-Reset": "9"}, "X-Quota-Left", 9 * time.Second},
		{"IETF list value", 200,
			map[string]string{"RateLimit-Remaining": "0, 100;w=60", "RateLimit-Reset": "3"}, "RateLimit-Remaining", 3 * time.Second},
		{"both signals: the longer pause wins", 429,
			map[string]string{"Retry-After": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"}, "X-RateLimit-Remaining", time.Minute},
		{"both signals: Retry-After longer", 429,
			map[string]string{"Retry-After": "120", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "60"}, "X-RateLimit-Remaining", 2 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, fc := newLocal(t, 10, time.Minute)
			h := http.Header{}
			for k, v := range c.headers {
				h.Set(k, v)
			}
			got, err := ObserveHeaders(context.Background(), l, fc, c.status, h, c.remaining)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("pause %v, want %v", got, c.want)
			}
			// The limiter was paused for exactly that long (or not at all).
			if w := take(t, l); w != c.want {
				t.Errorf("Take after ObserveHeaders: wait %v, want %v", w, c.want)
			}
		})
	}
}

func TestObserveHeadersPauseError(t *testing.T) {
	down := errors.New("redis down")
	h := http.Header{"Retry-After": {"5"}}
	d, err := ObserveHeaders(context.Background(), &script{err: down}, clock.NewFake(start), 429, h, "")
	if !errors.Is(err, down) || d != 0 {
		t.Errorf("ObserveHeaders = %v, %v; want 0 and the wrapped error", d, err)
	}
}
