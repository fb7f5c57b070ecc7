package report

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/store"
	"github.com/junctionhq/junction/internal/testkit"
)

// TestRecorderPurgesOnlyWhileRetentionHeld: a node that does not do the cluster's
// retention leaves old minutes alone (flushing still runs); once it gains the lease it
// purges at its next flush, not a whole PurgeEvery later.
func TestRecorderPurgesOnlyWhileRetentionHeld(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	if err := st.ReportRollupAdd(ctx, []store.ReportRollup{{Minute: t10.Add(-3 * time.Hour), Integration: "a", Operation: "x", Requests: 1}}); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(t10)
	var held atomic.Bool
	r, err := NewRecorder(Options{Store: st, Logger: quiet, Clock: clk, Retention: time.Hour, FlushEvery: 10 * time.Second, PurgeEvery: time.Hour, PurgeHeld: held.Load})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	r.Record(Call{Integration: "a", Operation: "y", At: t10, Latency: time.Millisecond})
	testkit.WaitFor(t, "10:00 flushed without the lease", func() bool {
		clk.Advance(10 * time.Second)
		return len(list(t, st, t10, t10.Add(time.Minute))) == 1
	})
	if n := len(list(t, st, t10.Add(-4*time.Hour), t10)); n != 1 {
		t.Fatalf("%d old minutes; a node without the retention lease purged", n)
	}
	held.Store(true)
	testkit.WaitFor(t, "the old minute purged once the lease is held", func() bool {
		clk.Advance(10 * time.Second)
		return len(list(t, st, t10.Add(-4*time.Hour), t10)) == 0
	})
}
