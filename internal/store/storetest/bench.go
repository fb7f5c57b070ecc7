package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
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

// benchWorkflowWrites is how many runs one WorkflowSave of BenchWorkflowSave writes.
const benchWorkflowWrites = 64

// BenchWorkflowSave measures WorkflowSave of the workflow engine's hot path: one call
// stores a step boundary of 64 runs, each one new step outcome and the run's own update
// (status, lease). "serial" is one saver, "parallel" several, each with its own runs, as
// several processes or batches would. It reports writes/s (one write per run per call)
// and the time of one call.
func BenchWorkflowSave(b *testing.B, open func(testing.TB) store.Store) {
	run := func(b *testing.B, parallelism int) {
		s := open(b)
		b.Cleanup(func() { _ = s.Close() })
		ctx := context.Background()
		if _, err := s.MigrateUp(ctx); err != nil {
			b.Fatalf("MigrateUp: %v", err)
		}
		var (
			savers, calls, saveTime atomic.Int64
			input                   = json.RawMessage(`{"order": 42, "customer": "c-1"}`)
			output                  = json.RawMessage(`{"charged": true, "amount": 1999, "currency": "EUR"}`)
		)
		// saver creates its runs, held by it, and returns a function that saves one
		// step boundary of all of them.
		saver := func() (func() error, error) {
			owner := fmt.Sprintf("saver-%d", savers.Add(1))
			ids := make([]string, benchWorkflowWrites)
			for i := range ids {
				ids[i] = fmt.Sprintf("%s-run-%02d", owner, i)
				r := store.WorkflowRun{ID: ids[i], Workflow: "checkout", Input: input, Trigger: "api", CreatedAt: t0,
					Status: store.WorkflowRunning, Owner: owner, LeaseUntil: ptr(t0.Add(time.Hour))}
				if _, _, err := s.WorkflowRunCreate(ctx, store.WorkflowRunCreateParams{Run: r}); err != nil {
					return nil, err
				}
			}
			n := 0
			return func() error {
				n++
				at := t0.Add(time.Duration(n) * time.Millisecond)
				writes := make([]store.WorkflowWrite, len(ids))
				for i, id := range ids {
					writes[i] = store.WorkflowWrite{
						RunID: id, Owner: owner, LeaseUntil: at.Add(time.Hour), At: at,
						Steps: []store.WorkflowStep{{StepID: fmt.Sprintf("step-%d", n), Status: store.StepCompleted, Attempts: 1,
							Input: input, Output: output, StartedAt: &at, FinishedAt: &at}},
						Run: &store.WorkflowRunUpdate{Status: store.WorkflowRunning, StartedAt: &t0},
					}
				}
				start := time.Now()
				results, err := s.WorkflowSave(ctx, writes)
				saveTime.Add(int64(time.Since(start)))
				calls.Add(1)
				if err != nil {
					return err
				}
				for _, err := range results {
					if err != nil {
						return err
					}
				}
				return nil
			}, nil
		}
		if parallelism == 0 {
			save, err := saver()
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := save(); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			// RunParallel starts parallelism × GOMAXPROCS goroutines; their runs are
			// made before the clock starts.
			saves := make(chan func() error, parallelism*runtime.GOMAXPROCS(0))
			for range cap(saves) {
				save, err := saver()
				if err != nil {
					b.Fatal(err)
				}
				saves <- save
			}
			b.ResetTimer()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				save := <-saves
				for pb.Next() {
					if err := save(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		b.ReportMetric(float64(calls.Load()*benchWorkflowWrites)/b.Elapsed().Seconds(), "writes/s")
		b.ReportMetric(float64(saveTime.Load())/float64(calls.Load())/1e6, "save-ms")
	}
	b.Run("serial", func(b *testing.B) { run(b, 0) })
	b.Run("parallel", func(b *testing.B) { run(b, 2) })
}

// benchPurgeEvents is how many events BenchEventPurge purges per operation, each with
// two delivered deliveries.
const benchPurgeEvents = 10000

// BenchEventPurge measures EventPurge of a backlog of 10,000 events past the retention,
// each with two delivered deliveries, in batches of store.EventPurgeBatch; the backlog is
// stored again, unmeasured, before each operation. It reports events/s.
func BenchEventPurge(b *testing.B, open func(testing.TB) store.Store) {
	s := benchStore(b, open)
	old := t0.Add(-48 * time.Hour)
	var seq atomic.Int64
	seed := func() {
		work := make(chan int)
		errs := make(chan error, 16)
		for range 16 {
			go func() {
				var first error
				for range work {
					n := seq.Add(1)
					id := fmt.Sprintf("ev-%d", n)
					at := old.Add(time.Duration(n) * time.Microsecond)
					ds := []store.Delivery{finished(fmt.Sprintf("d-%d-0", n), store.DeliveryDelivered, false, at), finished(fmt.Sprintf("d-%d-1", n), store.DeliveryDelivered, false, at)}
					for i := range ds {
						ds[i].EndpointID, ds[i].EventID = fmt.Sprintf("ep-%d", i), id
					}
					if _, _, err := s.EventPublish(context.Background(), newEvent(id, at), ds); err != nil && first == nil {
						first = err
					}
				}
				errs <- first
			}()
		}
		for i := range benchPurgeEvents {
			work <- i
		}
		close(work)
		for range 16 {
			if err := <-errs; err != nil {
				b.Fatalf("EventPublish: %v", err)
			}
		}
	}
	purged := 0
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		seed()
		b.StartTimer()
		n, err := s.EventPurge(context.Background(), t0, 0)
		if err != nil {
			b.Fatalf("EventPurge: %v", err)
		}
		if n.Events != benchPurgeEvents || n.Deliveries != 2*benchPurgeEvents {
			b.Fatalf("EventPurge = %+v, want %d events and %d deliveries", n, benchPurgeEvents, 2*benchPurgeEvents)
		}
		purged += n.Events
	}
	b.ReportMetric(float64(purged)/b.Elapsed().Seconds(), "events/s")
}
