package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
)

// Policy semantics through the whole pipeline. The policy packages have their own unit
// tests; these check that the runtime composes them as documented.

func TestRetryExponentialWithJitterThenSuccess(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		jsonOK(w, `{"ok":true}`)
	})
	clk := clock.NewAutoFake(time.Now())
	h := newHarness(t, `integration A { base_url: "UPSTREAM" retry: 3 times with exponential_backoff
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
	res := h.mustCall(t, "A", "get", nil)
	if res.Status != 200 || res.Attempts != 4 || up.count() != 4 {
		t.Fatalf("status %d attempts %d upstream %d", res.Status, res.Attempts, up.count())
	}
	slept := clk.Slept()
	if len(slept) != 3 {
		t.Fatalf("slept %v, want 3 back-off waits", slept)
	}
	for i, base := range []time.Duration{100, 200, 400} {
		base *= time.Millisecond
		if lo, hi := base*3/4, base*5/4; slept[i] < lo || slept[i] > hi {
			t.Errorf("wait %d = %v, want within ±25%% of %v", i+1, slept[i], base)
		}
	}
	if got := h.counter(t, "junction_integration_retries_total", map[string]string{"integration": "A"}); got != 3 {
		t.Errorf("retries metric = %v", got)
	}
}

func TestRetryOnlyRetryableOutcomes(t *testing.T) {
	for _, tt := range []struct {
		status   int
		attempts int
	}{{500, 1}, {404, 1}, {429, 3}, {502, 3}, {503, 3}, {504, 3}} {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(tt.status) })
			h := newHarness(t, `integration A { base_url: "UPSTREAM" retry: 2 times
				operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clock.NewAutoFake(time.Now())))
			res := h.mustCall(t, "A", "get", nil)
			if res.Status != tt.status || res.Attempts != tt.attempts {
				t.Errorf("status %d attempts %d, want %d attempts", res.Status, res.Attempts, tt.attempts)
			}
		})
	}
}

func TestRetryHonoursRetryAfterAndDelays(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if n == 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		jsonOK(w, `{}`)
	})
	clk := clock.NewAutoFake(time.Now())
	h := newHarness(t, `integration A { base_url: "UPSTREAM" retry_delays: [1s, 2s, 3s]
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
	res := h.mustCall(t, "A", "get", nil)
	if res.Attempts != 3 {
		t.Fatalf("attempts %d", res.Attempts)
	}
	if s := clk.Slept(); len(s) != 2 || s[0] != 7*time.Second || s[1] != 2*time.Second {
		t.Errorf("slept %v, want [7s (Retry-After beats 1s) 2s]", s)
	}

	// A Retry-After beyond the caller's deadline ends the retries at once.
	up2 := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	h2 := newHarness(t, `integration A { base_url: "UPSTREAM" retry: 3 times
		operation get { method: GET path: "/x" } }`, up2.URL, nil, withClock(clock.NewAutoFake(time.Now())))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := h2.rt.Call(ctx, "A", "get", nil, CallOptions{})
	if err != nil || res.Attempts != 1 || res.Status != 503 {
		t.Errorf("retry-after past deadline: %v %+v", err, res)
	}
}

func TestIdempotencyKeyAndPostRetries(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		jsonOK(w, `{}`)
	})
	src := `
integration WithKey { base_url: "UPSTREAM" retry: 2 times idempotency: { header: "Idempotency-Key", generate: true }
	operation create { method: POST path: "/c" body: { a: integer } } }
integration NoKey { base_url: "UPSTREAM" retry: 2 times
	operation create { method: POST path: "/c" body: { a: integer } } }`
	h := newHarness(t, src, up.URL, nil, withClock(clock.NewAutoFake(time.Now())))

	res := h.mustCall(t, "WithKey", "create", map[string]any{"a": 1})
	reqs := up.all()
	if res.Attempts != 3 || len(reqs) != 3 {
		t.Fatalf("POST with a generated key: %d attempts", res.Attempts)
	}
	key := reqs[0].Header.Get("Idempotency-Key")
	if len(key) != 36 || reqs[1].Header.Get("Idempotency-Key") != key || reqs[2].Header.Get("Idempotency-Key") != key {
		t.Errorf("keys differ between attempts: %q %q %q", key, reqs[1].Header.Get("Idempotency-Key"), reqs[2].Header.Get("Idempotency-Key"))
	}
	// Another logical call gets another key; a caller's key is passed through.
	h.mustCall(t, "WithKey", "create", map[string]any{"a": 1})
	if up.last().Header.Get("Idempotency-Key") == key {
		t.Error("a new logical call reused the previous key")
	}
	res, _ = h.rt.Call(context.Background(), "WithKey", "create", map[string]any{"a": 1}, CallOptions{IdempotencyKey: "mine-1"})
	if up.last().Header.Get("Idempotency-Key") != "mine-1" || res == nil {
		t.Errorf("caller key not passed: %q", up.last().Header.Get("Idempotency-Key"))
	}

	// POST without a key is never retried (it could run twice upstream).
	before := up.count()
	res = h.mustCall(t, "NoKey", "create", map[string]any{"a": 1})
	if res.Attempts != 1 || up.count() != before+1 {
		t.Errorf("POST without key: %d attempts", res.Attempts)
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	h := newHarness(t, `integration A { base_url: "UPSTREAM" timeout: 10s retry: 1 times
		operation get { method: GET path: "/x" timeout: 50ms } }`, up.URL, nil, withClock(clock.NewAutoFake(time.Now())))
	_, err := h.call(t, "A", "get", nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindTimeout || e.Attempts != 2 {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(e.Detail, "50ms") {
		t.Errorf("detail %q does not name the operation's timeout", e.Detail)
	}
}

func TestCircuitBreakerConsecutive(t *testing.T) {
	var mu sync.Mutex
	failing := true
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		jsonOK(w, `{}`)
	})
	clk := clock.NewFake(time.Now())
	h := newHarness(t, `integration Pay { base_url: "UPSTREAM"
		circuit_breaker: { threshold: 3 consecutive failures, reset_after: 30s }
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))

	for range 3 {
		if res := h.mustCall(t, "Pay", "get", nil); res.Status != 502 {
			t.Fatalf("status %d", res.Status)
		}
	}
	opened := h.nextEvent(t)
	if f := opened.Fields(); opened.Type != event.IntegrationCircuitOpened || f["integration"] != "Pay" || f["failures"] != json.Number("3") || f["opened_at"] == nil {
		t.Fatalf("opened event = %+v", opened)
	}
	_, err := h.call(t, "Pay", "get", nil)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCircuitOpen || e.RetryAfter != 30*time.Second || up.count() != 3 {
		t.Fatalf("open circuit: %v (upstream called %d times)", err, up.count())
	}
	if st := h.rt.Statuses()[0]; st.Status != "down" || st.CircuitState != "open" {
		t.Errorf("status %+v", st)
	}
	if h.counter(t, "junction_integration_circuit_state", map[string]string{"integration": "Pay"}) != 2 {
		t.Error("circuit state gauge is not 2 (open)")
	}

	// After reset_after one probe goes through; its success closes the circuit.
	mu.Lock()
	failing = false
	mu.Unlock()
	clk.Advance(30 * time.Second)
	if res := h.mustCall(t, "Pay", "get", nil); res.Status != 200 || res.Circuit != "closed" {
		t.Fatalf("probe: %d circuit %s", res.Status, res.Circuit)
	}
	closed := h.nextEvent(t)
	if f := closed.Fields(); closed.Type != event.IntegrationCircuitClosed || f["integration"] != "Pay" || f["open_duration_seconds"] != json.Number("30") || f["closed_at"] == nil {
		t.Fatalf("closed event = %+v", closed)
	}
}

func TestCircuitBreakerWindowAndProbeFailure(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusServiceUnavailable) })
	clk := clock.NewFake(time.Now())
	h := newHarness(t, `integration A { base_url: "UPSTREAM"
		circuit_breaker: { threshold: 3 failures in 1m, reset_after: 10s }
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
	h.mustCall(t, "A", "get", nil)
	h.mustCall(t, "A", "get", nil)
	clk.Advance(61 * time.Second) // the first two fall out of the window
	h.mustCall(t, "A", "get", nil)
	h.mustCall(t, "A", "get", nil)
	if st := h.rt.Statuses()[0].CircuitState; st != "closed" {
		t.Fatalf("circuit %s after 2 failures in the window", st)
	}
	h.mustCall(t, "A", "get", nil)
	if st := h.rt.Statuses()[0].CircuitState; st != "open" {
		t.Fatalf("circuit %s after 3 failures in the window", st)
	}
	clk.Advance(10 * time.Second)
	if st := h.rt.Statuses()[0].CircuitState; st != "half-open" {
		t.Fatalf("circuit %s after reset_after", st)
	}
	h.mustCall(t, "A", "get", nil) // the probe fails: open again for a fresh period
	if _, err := h.call(t, "A", "get", nil); kindOf(t, err) != KindCircuitOpen {
		t.Fatalf("after a failed probe: %v", err)
	}
	if state, _ := h.rt.ResetCircuit("A"); state != "closed" {
		t.Errorf("manual reset → %s", state)
	}
}

func TestBulkhead(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		arrived <- struct{}{}
		<-release
	})
	h := newHarness(t, `integration A { base_url: "UPSTREAM"
		circuit_breaker { threshold 5 timeout "30s" max_concurrent 2 }
		operation get { method: GET path: "/x" } }`, up.URL, nil)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { h.call(t, "A", "get", nil) })
	}
	<-arrived
	<-arrived
	if _, err := h.call(t, "A", "get", nil); kindOf(t, err) != KindBulkheadFull {
		t.Errorf("third concurrent call: %v", err)
	}
	close(release)
	wg.Wait()
}

func TestRateLimitWaitsOrRejects(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, `{}`) })
	clk := clock.NewFake(time.Now())
	h := newHarness(t, `integration A { base_url: "UPSTREAM" rate_limit: { requests: 2, window: 1m, max_wait: 2m }
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
	h.mustCall(t, "A", "get", nil)
	h.mustCall(t, "A", "get", nil) // a burst of the full amount passes at once

	// A caller whose deadline is too close gets rate-limited with Retry-After at once.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := h.rt.Call(ctx, "A", "get", nil, CallOptions{})
	cancel()
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRateLimited || e.RetryAfter != time.Minute {
		t.Fatalf("over the limit: %v", err)
	}
	// A caller whose deadline allows waits, then goes.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := h.rt.Call(ctx, "A", "get", nil, CallOptions{})
		done <- err
	}()
	for clk.Sleepers() == 0 {
		select {
		case err := <-done:
			t.Fatalf("the call did not wait: %v", err)
		default:
			time.Sleep(time.Millisecond)
		}
	}
	if up.count() != 2 {
		t.Fatal("the waiting call went upstream early")
	}
	clk.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("waiting caller: %v", err)
	}
	if up.count() != 3 || h.counter(t, "junction_integration_rate_limit_waits_total", nil) != 1 || h.counter(t, "junction_integration_rate_limit_rejections_total", nil) != 1 {
		t.Errorf("upstream %d, waits %v, rejections %v", up.count(),
			h.counter(t, "junction_integration_rate_limit_waits_total", nil), h.counter(t, "junction_integration_rate_limit_rejections_total", nil))
	}
}

func TestRateLimitLearnsFromUpstreamHeaders(t *testing.T) {
	clk := clock.NewFake(time.Now())
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", fmt.Sprint(clk.Now().Add(90*time.Second).Unix()))
		jsonOK(w, `{}`)
	})
	h := newHarness(t, `integration A { base_url: "UPSTREAM"
		rate_limit: { requests: 100, window: 1h, header: "X-RateLimit-Remaining" }
		operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
	h.mustCall(t, "A", "get", nil)
	// The pause (90 s) is longer than the wait allowed: refused at once. The deadline only
	// has to outlast a slow machine.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := h.rt.Call(ctx, "A", "get", nil, CallOptions{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindRateLimited || e.RetryAfter < 80*time.Second {
		t.Fatalf("after Remaining: 0 → %v", err)
	}
}

// A POST without an idempotency key is sent once even with an explicit retry_delays
// schedule (regression: the schedule used to put the retries back).
func TestPostWithoutKeyIgnoresRetryDelays(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(http.StatusServiceUnavailable) })
	h := newHarness(t, `integration Hooks { base_url: "UPSTREAM" retry_delays: [1s, 2s]
		operation deliver { method: POST path: "/hook" } }`, up.URL, nil, withClock(clock.NewAutoFake(time.Now())))
	res := h.mustCall(t, "Hooks", "deliver", nil)
	if res.Attempts != 1 || up.count() != 1 {
		t.Errorf("attempts %d, upstream %d", res.Attempts, up.count())
	}
}

// A caller whose deadline passes while waiting for a (shared, cacheable) upstream call
// gets a timeout, not a bare context error (regression).
func TestDeadlineWhileWaitingIsTimeout(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the upstream closes (cleanups run last-in first-out)
	h := newHarness(t, `integration A { base_url: "UPSTREAM" default_cache_ttl: 1m
		operation get { method: GET path: "/x" }
		operation post { method: POST path: "/x" } }`, up.URL, nil)
	for _, op := range []string{"get", "post"} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := h.rt.Call(ctx, "A", op, nil, CallOptions{})
		cancel()
		if KindOf(err) != KindTimeout {
			t.Errorf("%s: %v", op, err)
		}
	}
}

// A rate-limited call waits at most max_wait (default: the attempt's timeout), however
// much time its deadline leaves: beyond it, it is refused at once (regression: with
// `timeout: 2s` it waited for the whole window).
func TestRateLimitWaitBoundedByMaxWait(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) { jsonOK(w, `{}`) })
	for _, tc := range []struct{ name, settings string }{
		{"default: the timeout", `timeout: 2s rate_limit: { requests: 1, window: 1m }`},
		{"max_wait", `timeout: 2m rate_limit: { requests: 1, window: 1m, max_wait: 5s }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewFake(time.Now())
			h := newHarness(t, `integration A { base_url: "UPSTREAM" `+tc.settings+`
				operation get { method: GET path: "/x" } }`, up.URL, nil, withClock(clk))
			h.mustCall(t, "A", "get", nil)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := h.rt.Call(ctx, "A", "get", nil, CallOptions{})
				done <- err
			}()
			var err error
		wait:
			for {
				select {
				case err = <-done:
					break wait
				default:
				}
				if clk.Sleepers() > 0 {
					cancel()
					<-done
					t.Fatal("the call waits for the rate limit")
				}
				time.Sleep(time.Millisecond)
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindRateLimited || e.RetryAfter != time.Minute || e.Attempts != 0 {
				t.Fatalf("over the limit: %v (%+v)", err, e)
			}
		})
	}
}
