package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// The claim (claimSQL) is fast only while the planner knows how many deliveries are
// waiting: with statistics from when the table was small, or none at all, it estimates
// a handful of due rows and sorts them all rather than reading the due index in order,
// so every claim reads the whole queue (measured: 280 ms a claim with 60,000 rows in
// it, against 0.1 ms once analyzed). Autovacuum analyzes the table after 10% of it
// changed, but a queue that fills faster than autovacuum's round (a minute by default),
// or a server with autovacuum off, leaves it that way.
//
// It is fast only while the due index is not full of dead entries, too: every claim
// and every outcome leaves one behind at the front of delivery_queue_due, where each
// claim starts reading, and autovacuum visits a database once a minute by default, so
// under load claims read hundreds of pages of dead entries (measured: 461 pages, 5 ms,
// for a claim of 24 deliveries).
//
// So the claim path checks, at most every statsCheckInterval and in the background,
// the queue's dead rows and how much of it changed since its last analyze, and
// vacuums or analyzes it past those thresholds; SKIP_LOCKED gives way to an autovacuum
// already at it.
const (
	statsCheckInterval = time.Second
	statsTimeout       = 30 * time.Second
)

// statsKeeper runs the background checks; Close waits for the one running.
type statsKeeper struct {
	next    atomic.Int64 // UnixNano before which no check starts
	running sync.WaitGroup
	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
}

// queueUpkeepSQL says whether delivery_queue needs a vacuum (5,000 dead rows) and an
// analyze (changed by more than 1,000 rows and 20% since it was last analyzed, and that
// was a minute ago or more: in a queue under load every row changes within seconds,
// and what the claim's plan needs, the row count, each vacuum updates anyway).
const queueUpkeepSQL = `SELECT COALESCE(n_dead_tup > 5000, false),
		COALESCE(n_mod_since_analyze > 1000 + 0.2 * n_live_tup
			AND COALESCE(GREATEST(last_analyze, last_autoanalyze), '-infinity') < now() - interval '1 minute', false)
	FROM pg_stat_user_tables WHERE relid = 'delivery_queue'::regclass`

// keepQueueFast starts a check unless one ran within statsCheckInterval.
func (s *Store) keepQueueFast() {
	k := &s.stats
	now := time.Now().UnixNano()
	next := k.next.Load()
	if now < next || !k.next.CompareAndSwap(next, now+int64(statsCheckInterval)) {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s.closed.Load() {
		return
	}
	if k.ctx == nil {
		k.ctx, k.cancel = context.WithCancel(context.Background())
	}
	ctx := k.ctx
	k.running.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, statsTimeout)
		defer cancel()
		_ = s.upkeepQueue(ctx)
	})
}

// upkeepQueue vacuums and analyzes delivery_queue as queueUpkeepSQL says.
func (s *Store) upkeepQueue(ctx context.Context) error {
	var vacuum, analyze bool
	if err := s.pool.QueryRow(ctx, queueUpkeepSQL).Scan(&vacuum, &analyze); err != nil {
		return err
	}
	var err error
	switch {
	case vacuum && analyze:
		_, err = s.pool.Exec(ctx, `VACUUM (SKIP_LOCKED, ANALYZE) delivery_queue`)
	case vacuum:
		_, err = s.pool.Exec(ctx, `VACUUM (SKIP_LOCKED) delivery_queue`)
	case analyze:
		_, err = s.pool.Exec(ctx, `ANALYZE (SKIP_LOCKED) delivery_queue`)
	}
	return err
}

// stopStats cancels a check in progress and waits for it.
func (s *Store) stopStats() {
	k := &s.stats
	k.mu.Lock()
	if k.cancel != nil {
		k.cancel()
	}
	k.mu.Unlock()
	k.running.Wait()
}
