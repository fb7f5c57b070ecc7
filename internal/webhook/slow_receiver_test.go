package webhook_test

import (
	"os"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/webhook"
)

// TestSlowReceiverMeasurement measures issue 9's slow receiver with the real settings:
// 300 events to one endpoint whose receiver takes 2 s per request, the timeout 3 s, the
// default workers (16), per-endpoint concurrency (4) and lease (2×timeout + 30 s). It
// takes minutes (4 requests every 2 s), so it runs only when asked:
//
//	JUNCTION_MEASURE_SLOW_RECEIVER=1 go test -run TestSlowReceiverMeasurement -v -timeout 30m ./internal/webhook/
//
// It logs the requests received against the events and fails on any duplicate.
func TestSlowReceiverMeasurement(t *testing.T) {
	if os.Getenv("JUNCTION_MEASURE_SLOW_RECEIVER") == "" {
		t.Skip("a measurement of minutes; set JUNCTION_MEASURE_SLOW_RECEIVER=1 to run it")
	}
	const events = 300
	eachStore(t, func(t *testing.T, st store.Store) {
		s := webhook.SettingsFrom(nil)
		s.AllowedNetworks, s.Timeout = []string{"127.0.0.0/8"}, 3*time.Second
		e := newHookEnv(t, st, s, webhook.Options{})
		r := newCountingReceiver(t, 2*time.Second, false)
		ep := e.endpoint(t, r.URL)
		publishN(t, e.svc, events)
		start := time.Now()
		e.run(t)
		delivered := func() int {
			n := 0
			for _, d := range e.deliveries(t, ep.ID) {
				if d.Status == store.DeliveryDelivered {
					n++
				}
			}
			return n
		}
		for delivered() < events {
			if time.Since(start) > 25*time.Minute {
				t.Fatalf("only %d of %d delivered after %v", delivered(), events, time.Since(start))
			}
			time.Sleep(time.Second)
		}
		took := time.Since(start)
		// Copies of deliveries claimed twice may still be on their way: wait until no
		// request has come for two request times.
		for last := -1; last != r.count(); {
			last = r.count()
			time.Sleep(4 * time.Second)
		}
		dup, distinct := r.duplicates()
		t.Logf("%d events delivered in %v: %d POSTs received, %d distinct webhook-ids, %d duplicates", events, took.Round(time.Second), r.count(), distinct, dup)
		if dup != 0 {
			t.Errorf("%d duplicate POSTs, want 0", dup)
		}
	})
}
