package integration

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/report"
	"github.com/junctionhq/junction/internal/store"
)

// rollups is a report.Store that keeps what is flushed to it.
type rollups struct {
	report.Store // not called
	mu           sync.Mutex
	rows         map[string]store.ReportRollup // by operation
}

func (r *rollups) ReportRollupAdd(_ context.Context, rs []store.ReportRollup) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, row := range rs {
		r.rows[row.Operation] = row
	}
	return nil
}

// TestCallsAreReported: every finished call reaches the usage reports with its outcome,
// the requests that reached the upstream (retries counted, cache hits not), their cost
// and the objective, the operation's own settings over the integration's.
func TestCallsAreReported(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch {
		case r.URL.Path == "/flaky" && n == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			jsonOK(w, `{"ok":true}`)
		}
	})
	clk := clock.NewAutoFake(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	sink := &rollups{rows: map[string]store.ReportRollup{}}
	rec, err := report.NewRecorder(report.Options{Store: sink, Logger: quietLogger(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, `integration A { base_url: "UPSTREAM" retry: 2 times
		slo: { success_rate: 99% }  cost: 0.01 per call
		operation flaky { method: GET path: "/flaky" }
		operation fail { method: GET path: "/fail" }
		operation cached { method: GET path: "/cached" cache: 1m cost: 0.5 per call slo: { success_rate: 90% } } }`,
		up.URL, nil, withClock(clk), withOptions(func(o *Options) { o.Reports = rec }))
	h.mustCall(t, "A", "flaky", nil)
	if res, _ := h.call(t, "A", "fail", nil); res == nil || res.Status != 500 {
		t.Fatalf("fail: %+v", res)
	}
	h.mustCall(t, "A", "cached", nil)
	h.mustCall(t, "A", "cached", nil) // a hit: reaches no upstream, costs nothing
	if _, err := h.call(t, "A", "flaky", map[string]any{"nope": 1}); err == nil {
		t.Fatal("a call with an unknown parameter succeeded")
	}
	if err := rec.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]store.ReportRollup{
		"flaky":  {Requests: 1, Upstream: 2, Cost: 0.02, Objective: 0.99},
		"fail":   {Requests: 1, Errors: 1, Upstream: 1, Cost: 0.01, Objective: 0.99},
		"cached": {Requests: 2, Upstream: 1, Cost: 0.5, Objective: 0.9},
	} {
		got := sink.rows[op]
		if got.Requests != want.Requests || got.Errors != want.Errors || got.Upstream != want.Upstream ||
			got.Cost < want.Cost-1e-9 || got.Cost > want.Cost+1e-9 || got.Objective != want.Objective {
			t.Errorf("%s: reported %+v, want %+v", op, got, want)
		}
		var hist int64
		for _, n := range got.Latency {
			hist += n
		}
		if hist != got.Requests {
			t.Errorf("%s: histogram holds %d calls of %d", op, hist, got.Requests)
		}
	}
}
