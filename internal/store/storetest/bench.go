package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// Benchmarks of the delivery hot path, shared so that both backends measure the same
// work. Each backend's test file calls them from its own Benchmark functions; open must
// return a store on a new, empty database, as for Run.

// Analyzer is what a store passed to the benchmarks may also implement when its query
// planner needs table statistics: BenchClaimRecord calls it once the queue is loaded, as
// PostgreSQL's autovacuum would soon do in a running system. Without statistics the
// planner sorts the whole queue for every claim instead of reading the due index in order.
type Analyzer interface {
	Analyze(ctx context.Context) error
}

const (
	benchEndpoints = 10
	// benchBatch is what a worker claims and records at once.
	benchBatch = 100
	// benchQueue is how many deliveries BenchClaimRecord keeps in the queue.
	benchQueue = 5000
)

// BenchEventPublish measures EventPublish of one event fanned out to four endpoints, one
// caller at a time ("serial", the latency of one publication) and from many goroutines
// at once ("parallel", what concurrent API requests get). It reports deliveries/s.
func BenchEventPublish(b *testing.B, open func(testing.TB) store.Store) {
	const fanOut = 4
	run := func(b *testing.B, parallelism int) {
		s := benchStore(b, open)
		var seq atomic.Int64
		publish := func() error {
			n := seq.Add(1)
			id := fmt.Sprintf("ev-%d", n)
			at := t0.Add(time.Duration(n) * time.Microsecond)
			ds := make([]store.Delivery, fanOut)
			for i := range ds {
				ds[i] = newDelivery(fmt.Sprintf("d-%d-%d", n, i), fmt.Sprintf("ep-%d", i), id, at)
			}
			_, _, err := s.EventPublish(context.Background(), newEvent(id, at), ds)
			return err
		}
		b.ResetTimer()
		if parallelism == 0 {
			for b.Loop() {
				if err := publish(); err != nil {
					b.Fatalf("EventPublish: %v", err)
				}
			}
		} else {
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := publish(); err != nil {
						b.Errorf("EventPublish: %v", err)
						return
					}
				}
			})
		}
		b.ReportMetric(float64(seq.Load()*fanOut)/b.Elapsed().Seconds(), "deliveries/s")
	}
	b.Run("serial", func(b *testing.B) { run(b, 0) })
	b.Run("parallel", func(b *testing.B) { run(b, 4) })
}

// BenchClaimRecord measures one worker round: claim 100 due deliveries, then record 100
// outcomes in one DeliveryRecord (nine successes to one failure, with endpoint health).
// "serial" is one worker, "parallel" several competing for the same queue. It reports
// deliveries/s.
//
// To keep the queue at a steady size without unmeasured refills, every outcome is a
// retry due at once: it runs the same statements as a final outcome (one delivery UPDATE
// and one endpoint UPDATE per record), and the delivery goes back to the end of the queue.
func BenchClaimRecord(b *testing.B, open func(testing.TB) store.Store) {
	run := func(b *testing.B, parallelism int) {
		s := benchStore(b, open)
		ctx := context.Background()
		for ev := range benchQueue / benchEndpoints {
			ds := make([]store.Delivery, benchEndpoints)
			for i := range ds {
				ds[i] = newDelivery(fmt.Sprintf("d-%d-%d", ev, i), fmt.Sprintf("ep-%d", i), "", t0)
			}
			mustPublish(b, s, fmt.Sprintf("ev-%d", ev), t0, ds...)
		}

		if a, ok := s.(Analyzer); ok {
			if err := a.Analyze(ctx); err != nil {
				b.Fatalf("Analyze: %v", err)
			}
		}
		var (
			clock                 atomic.Int64 // virtual milliseconds since t0, one tick per round
			processed             atomic.Int64
			claimTime, recordTime atomic.Int64 // nanoseconds spent in each call, summed
		)
		round := func(owner string) error {
			now := t0.Add(time.Duration(clock.Add(1)) * time.Millisecond)
			start := time.Now()
			claimed, err := s.DeliveryClaim(ctx, store.ClaimParams{Now: now, Limit: benchBatch, Lease: time.Minute, Owner: owner})
			claimTime.Add(int64(time.Since(start)))
			if err != nil {
				return err
			}
			if len(claimed) == 0 {
				return fmt.Errorf("claim at %v found nothing due", now)
			}
			records := make([]store.AttemptRecord, len(claimed))
			for i, c := range claimed {
				d := c.Delivery
				ok := i%10 != 0
				r := store.AttemptRecord{
					DeliveryID: d.ID, EndpointID: d.EndpointID, Status: store.DeliveryRetrying,
					AttemptCount: d.AttemptCount + 1, NextRetryAt: ptr(now), ResponseStatusCode: ptr(200),
					DurationMs: 25, At: now, Success: ok, BreakerThreshold: 1000, BreakerResetAfter: time.Minute,
				}
				if !ok {
					r.ResponseStatusCode, r.ErrorMessage = ptr(503), "HTTP 503"
				}
				records[i] = r
			}
			start = time.Now()
			err = s.DeliveryRecord(ctx, records)
			recordTime.Add(int64(time.Since(start)))
			if err != nil {
				return err
			}
			processed.Add(int64(len(records)))
			return nil
		}
		b.ResetTimer()
		if parallelism == 0 {
			for b.Loop() {
				if err := round("worker"); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			var workers atomic.Int64
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				owner := fmt.Sprintf("worker-%d", workers.Add(1))
				for pb.Next() {
					if err := round(owner); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		b.ReportMetric(float64(processed.Load())/b.Elapsed().Seconds(), "deliveries/s")
		// Per call, not per operation of the whole benchmark: in "parallel" calls overlap.
		rounds := float64(clock.Load())
		b.ReportMetric(float64(claimTime.Load())/rounds/1e6, "claim-ms")
		b.ReportMetric(float64(recordTime.Load())/rounds/1e6, "record-ms")
	}
	b.Run("serial", func(b *testing.B) { run(b, 0) })
	b.Run("parallel", func(b *testing.B) { run(b, 2) })
}

// benchStore opens and migrates a store with benchEndpoints endpoints ep-0, ep-1, ….
func benchStore(b *testing.B, open func(testing.TB) store.Store) store.Store {
	b.Helper()
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	if _, err := s.MigrateUp(context.Background()); err != nil {
		b.Fatalf("MigrateUp: %v", err)
	}
	for i := range benchEndpoints {
		mustEndpoint(b, s, newEndpoint(fmt.Sprintf("ep-%d", i), t0))
	}
	return s
}
