package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/event"
)

// The settings of TestReloadCarriesStateOfUnchangedIntegrations: a breaker that opens
// after two failures, a rate limit of four calls a minute, and a cached GET.
const reloadConfig = `integration Pay { base_url: "UPSTREAM" auth: bearer(env(TOKEN)) timeout: TIMEOUT
	circuit_breaker: { threshold: 2 consecutive failures, reset_after: 30s }
	rate_limit: { requests: 4, window: 1m }
	operation charge { method: POST path: "/charges" }
	operation rates { method: GET path: "/rates" cache: 1h } }
integration Other { base_url: "UPSTREAM" operation get { method: GET path: "/other" } }`

func reloadSource(timeout string, comment string) string {
	// A comment in front moves every block: positions are not settings.
	return comment + strings.ReplaceAll(reloadConfig, "TIMEOUT", timeout)
}

// TestReloadCarriesStateOfUnchangedIntegrations: runtime 1 opens a circuit, fills the
// cache and uses rate-limit slots; runtime 2, built from an equal configuration (moved
// about in the file) with runtime 1 as Previous, still has the circuit open, the health
// window, the cached answer and the used slots; closing runtime 1 takes nothing from it.
// Runtime 3, whose integration has another timeout, starts fresh; so does runtime 4,
// whose secret has another value behind the same env().
func TestReloadCarriesStateOfUnchangedIntegrations(t *testing.T) {
	var failing atomic.Bool
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if failing.Load() && r.URL.Path == "/charges" {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		jsonOK(w, fmt.Sprintf(`{"n":%d}`, n))
	})
	secrets := map[string]string{"TOKEN": "t0k3n"}
	clk := clock.NewFake(time.Now())
	h1 := newHarness(t, reloadSource("5s", ""), up.URL, secrets, withClock(clk))

	cached := h1.mustCall(t, "Pay", "rates", nil) // 1 request, a slot, a cache entry
	failing.Store(true)
	h1.mustCall(t, "Pay", "charge", nil) // 2 failures open the circuit: 3 slots used
	h1.mustCall(t, "Pay", "charge", nil)
	if e := h1.nextEvent(t); e.Type != event.IntegrationCircuitOpened {
		t.Fatalf("event %s", e.Type)
	}
	before := health(t, h1, "Pay")
	if before.CircuitState != "open" || before.Calls != 3 {
		t.Fatalf("runtime 1: %+v", before)
	}

	h2 := h1.reload(t, reloadSource("5s", "// reloaded\n\n"), up.URL, secrets)
	h1.rt.Close() // the old runtime goes once the new one is in place
	checkCarriedOver(t, h2, up, before, cached, clk)

	h3 := h2.reload(t, reloadSource("6s", ""), up.URL, secrets)
	if fresh := health(t, h3, "Pay"); fresh.CircuitState != "closed" || fresh.Calls != 0 || fresh.LastError != "" {
		t.Fatalf("runtime 3 (timeout changed) health %+v, want fresh", fresh)
	}
	if res := h3.mustCall(t, "Pay", "rates", nil); res.Cache != CacheMiss {
		t.Fatalf("runtime 3 (timeout changed) cache: %s, want a miss", res.Cache)
	}
	if other := health(t, h3, "Other"); other.Calls != 1 {
		t.Fatalf("runtime 3: the unchanged integration lost its statistics: %+v", other)
	}

	h4 := h3.reload(t, reloadSource("6s", ""), up.URL, map[string]string{"TOKEN": "n3w-t0k3n"})
	if again := health(t, h4, "Pay"); again.Calls != 0 {
		t.Fatalf("runtime 4 (secret changed) kept the statistics: %+v", again)
	}
	h4.mustCall(t, "Pay", "charge", nil)
	if got := up.last().Header.Get("Authorization"); got != "Bearer n3w-t0k3n" {
		t.Fatalf("runtime 4 sent %q", got)
	}
}

// checkCarriedOver checks runtime 2 of TestReloadCarriesStateOfUnchangedIntegrations.
func checkCarriedOver(t *testing.T, h2 *harness, up *upstream, before Health, cached *Result, clk *clock.Fake) {
	t.Helper()
	if after := health(t, h2, "Pay"); after.CircuitState != "open" || after.Calls != 3 || after.LastError != before.LastError || after.Status != "down" {
		t.Fatalf("runtime 2 health %+v, want runtime 1's %+v", after, before)
	}
	requests := up.count()
	if _, err := h2.call(t, "Pay", "charge", nil); kindOf(t, err) != KindCircuitOpen {
		t.Fatalf("runtime 2, open circuit: %v", err)
	}
	if res := h2.mustCall(t, "Pay", "rates", nil); res.Cache != CacheHit || string(res.Body) != string(cached.Body) {
		t.Fatalf("runtime 2 cache: %s %s", res.Cache, res.Body)
	}
	if up.count() != requests {
		t.Fatalf("runtime 2 sent %d requests; the circuit and the cache should have answered", up.count()-requests)
	}
	// The breaker reports to runtime 2 now: closing it by hand publishes the closed event
	// with the time since runtime 1 saw it open.
	clk.Advance(10 * time.Second)
	if state, _ := h2.rt.ResetCircuit("Pay"); state != "closed" {
		t.Fatalf("reset: %s", state)
	}
	if e := h2.nextEvent(t); e.Type != event.IntegrationCircuitClosed || e.Fields()["open_duration_seconds"] != json.Number("10") {
		t.Fatalf("closed event %+v", e)
	}
	h2.mustCall(t, "Other", "get", nil)
	// Three slots of the minute were used on runtime 1, the fourth by the call the open
	// circuit refused (the rate limit comes first); a cache hit takes none.
	if _, err := h2.call(t, "Pay", "charge", nil); kindOf(t, err) != KindRateLimited {
		t.Fatalf("runtime 2 rate limit: %v", err)
	}
}

func health(t *testing.T, h *harness, name string) Health {
	t.Helper()
	hl, err := h.rt.Health(name)
	if err != nil {
		t.Fatal(err)
	}
	return hl
}

// TestReloadWithBatching: a batching integration adopted by a new runtime keeps working
// after the old runtime is closed (closing flushes the old batcher only), and the old
// runtime's batch, flushed by Close, still counts in the shared statistics.
func TestReloadWithBatching(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		jsonOK(w, `{"results":[{"ok":true}]}`)
	})
	src := `integration N { base_url: "UPSTREAM"
		batching: { max_batch_size: 1, max_delay: 1h }
		operation send_email { method: POST path: "/email" body: { to: string, required } }
		operation send_batch { method: POST path: "/batch" body: { notifications: list(json) } } }`
	h1 := newHarness(t, src, up.URL, nil)
	h1.mustCall(t, "N", "send_email", map[string]any{"to": "a@x"})
	h2 := h1.reload(t, src, up.URL, nil)
	h1.rt.Close()
	if _, err := h1.call(t, "N", "send_email", map[string]any{"to": "b@x"}); err == nil {
		t.Fatal("the closed runtime's batcher took a call")
	}
	res := h2.mustCall(t, "N", "send_email", map[string]any{"to": "c@x"})
	if res.Status != 200 || string(res.Body) != `{"ok":true}` {
		t.Fatalf("runtime 2 batch: %d %s", res.Status, res.Body)
	}
	if health, _ := h2.rt.Health("N"); health.Calls != 2 {
		t.Fatalf("runtime 2 health %+v, want both batches", health)
	}
	if h2.rt.group != h1.rt.group {
		t.Fatal("the shared-miss group did not carry over")
	}
}
