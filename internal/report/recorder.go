package report

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/clock"
	"github.com/junctionhq/junction/internal/lifecycle"
	"github.com/junctionhq/junction/internal/store"
)

// Defaults of a Recorder.
const (
	// FlushEveryDefault is how often finished minutes are written. A report shows a
	// minute once every process has flushed it, so at most this long after it ended.
	FlushEveryDefault = 10 * time.Second
	// RetentionDefault is how long stored minutes are kept.
	RetentionDefault = 30 * 24 * time.Hour
	// PurgeEveryDefault is how often minutes older than the retention are deleted (and
	// once at start).
	PurgeEveryDefault = time.Hour
)

// Store is what reports need of the store (store.Store is one).
type Store interface {
	ReportRollupAdd(ctx context.Context, rs []store.ReportRollup) error
	ReportRollupList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportRollup, error)
	ReportHourList(ctx context.Context, f store.ReportRollupFilter) ([]store.ReportHour, error)
	ReportRollupPurge(ctx context.Context, before time.Time) (int, error)
}

// Options configure a Recorder. Zero values mean the documented defaults.
type Options struct {
	Store      Store        // required
	Logger     *slog.Logger // required
	Clock      clock.Clock  // default clock.Real{}
	FlushEvery time.Duration
	Retention  time.Duration
	PurgeEvery time.Duration
	// PurgeHeld, if set, says whether this node does the cluster's retention (holds the
	// "retention" lease): old minutes are purged only while it does, so several nodes do
	// not run the same deletes. Nil: always (one process).
	PurgeHeld func() bool
}

// Call is one finished integration call, as the integration runtime reports it.
type Call struct {
	Integration, Operation string
	At                     time.Time     // when it ended
	Latency                time.Duration // the whole call, retries and waits included
	Failed                 bool
	Upstream               int     // requests that reached the upstream
	Cost                   float64 // what those requests cost
	Objective              float64 // the declared success rate (a fraction); 0 when none
}

// Recorder aggregates calls per minute in memory and writes finished minutes to the
// store: on a timer, and every minute it holds when it stops. It also purges minutes
// older than the retention. It is created once per process and outlives configuration
// reloads. A nil *Recorder records nothing.
type Recorder struct {
	store                            Store
	log                              *slog.Logger
	clock                            clock.Clock
	flushEvery, retention, purgeEach time.Duration
	purgeHeld                        func() bool

	mu    sync.Mutex
	cells map[cellKey]*cell

	cancel context.CancelFunc // nil until Start
	done   chan struct{}
}

var _ lifecycle.Component = (*Recorder)(nil)

type cellKey struct {
	minute                 int64 // Unix seconds of the minute's start
	integration, operation string
}

type cell struct {
	requests, errors, upstream, latencySum int64
	cost, objective                        float64
	latency                                [Buckets]int64
}

// NewRecorder validates opts and returns a Recorder; Start runs its timer.
func NewRecorder(opts Options) (*Recorder, error) {
	if opts.Store == nil || opts.Logger == nil {
		return nil, fmt.Errorf("report: Store and Logger are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	positive := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return &Recorder{
		store: opts.Store, log: opts.Logger, clock: opts.Clock,
		flushEvery: positive(opts.FlushEvery, FlushEveryDefault),
		retention:  positive(opts.Retention, RetentionDefault),
		purgeEach:  positive(opts.PurgeEvery, PurgeEveryDefault),
		purgeHeld:  opts.PurgeHeld,
		cells:      map[cellKey]*cell{},
	}, nil
}

// Record counts one call. It is on every call's path: one map lookup under a mutex.
func (r *Recorder) Record(c Call) {
	if r == nil {
		return
	}
	sec := c.At.Unix()
	k := cellKey{minute: sec - sec%60, integration: c.Integration, operation: c.Operation}
	b := BucketOf(c.Latency)
	r.mu.Lock()
	cl := r.cells[k]
	if cl == nil {
		cl = new(cell)
		r.cells[k] = cl
	}
	cl.requests++
	if c.Failed {
		cl.errors++
	}
	cl.upstream += int64(c.Upstream)
	cl.latencySum += c.Latency.Microseconds()
	cl.cost += c.Cost
	cl.objective = c.Objective
	cl.latency[b]++
	r.mu.Unlock()
}

// Start runs the flush and purge timer until Stop.
func (r *Recorder) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(ctx)
	return nil
}

// Stop ends the timer and writes every minute held, the current one included (the
// store adds it to what a later flush of the same minute brings).
func (r *Recorder) Stop(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
	return r.Flush(ctx, true)
}

func (r *Recorder) run(ctx context.Context) {
	defer close(r.done)
	nextPurge := r.clock.Now()
	for {
		// A node that does not do the retention asks again at the next flush, so the
		// one that takes it over (at start, or from a dead node) purges soon after.
		if now := r.clock.Now(); !now.Before(nextPurge) && (r.purgeHeld == nil || r.purgeHeld()) {
			r.purge(ctx, now)
			nextPurge = now.Add(r.purgeEach)
		}
		if r.clock.Sleep(ctx, r.flushEvery) != nil {
			return
		}
		if err := r.Flush(ctx, false); err != nil && ctx.Err() == nil {
			r.log.Warn("report minutes not written; kept for the next try", "error", err)
		}
	}
}

func (r *Recorder) purge(ctx context.Context, now time.Time) {
	n, err := r.store.ReportRollupPurge(ctx, now.Add(-r.retention).Truncate(time.Minute))
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Warn("purging old report minutes failed", "error", err)
	case n > 0:
		r.log.Info("old report minutes purged", "rows", n, "retention", r.retention.String())
	}
}

// Flush writes the finished minutes held (every minute with all), and keeps them for the
// next try when the store fails.
func (r *Recorder) Flush(ctx context.Context, all bool) error {
	now := r.clock.Now().Unix()
	current := now - now%60
	r.mu.Lock()
	taken := map[cellKey]*cell{}
	for k, cl := range r.cells {
		if all || k.minute < current {
			taken[k] = cl
			delete(r.cells, k)
		}
	}
	r.mu.Unlock()
	if len(taken) == 0 {
		return nil
	}
	rows := make([]store.ReportRollup, 0, len(taken))
	for k, cl := range taken {
		row := store.ReportRollup{
			Minute: time.Unix(k.minute, 0).UTC(), Integration: k.integration, Operation: k.operation,
			Requests: cl.requests, Errors: cl.errors, Upstream: cl.upstream, LatencySum: cl.latencySum,
			Cost: cl.cost, Objective: cl.objective,
		}
		last := -1
		for i, n := range cl.latency {
			if n > 0 {
				last = i
			}
		}
		row.Latency = append([]int64(nil), cl.latency[:last+1]...)
		rows = append(rows, row)
	}
	if err := r.store.ReportRollupAdd(ctx, rows); err != nil {
		r.restore(taken)
		return fmt.Errorf("report: flush %d minute rows: %w", len(rows), err)
	}
	return nil
}

// restore puts minutes whose write failed back, merged with what came in meanwhile.
func (r *Recorder) restore(taken map[cellKey]*cell) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, old := range taken {
		cl := r.cells[k]
		if cl == nil {
			r.cells[k] = old
			continue
		}
		cl.requests += old.requests
		cl.errors += old.errors
		cl.upstream += old.upstream
		cl.latencySum += old.latencySum
		cl.cost += old.cost
		for i, n := range old.latency {
			cl.latency[i] += n
		}
	}
}
