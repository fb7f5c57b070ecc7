package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The claim (claimSQL) is fast only while the planner knows how many deliveries are
// waiting: with statistics from when the table was small, or none at all, it estimates
// a handful of due rows and sorts them all rather than reading the due index in order,
// so every claim reads the whole queue (measured: 280 ms a claim with 60,000 rows in
// it, against 0.1 ms once analyzed). Autovacuum analyzes the table after 10% of it
// changed, but a queue that fills faster than autovacuum's round (a minute by default),
// or a server with autovacuum off, leaves it that way. So the claim path checks, at
// most every statsCheckInterval and in the background, how much of deliveries changed
// since its last analyze, and analyzes it when that is well past autovacuum's own
// threshold (which, when autovacuum runs, it normally reaches first).
const (
	statsCheckInterval = 5 * time.Second
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

// deliveriesStale is whether deliveries changed by more than 1,000 rows and 20% since
// it was last analyzed.
const queueStaleSQL = `SELECT COALESCE((SELECT n_mod_since_analyze > 1000 + 0.2 * n_live_tup
	FROM pg_stat_user_tables WHERE relid = 'delivery_queue'::regclass), false)`

// keepDeliveryStats starts a check unless one ran within statsCheckInterval.
func (s *Store) keepDeliveryStats() {
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
		_ = s.analyzeIfStale(ctx)
	})
}

// analyzeIfStale analyzes deliveries when queueStaleSQL says so. It gives up rather
// than wait for a lock autovacuum holds (it is analyzing then anyway).
func (s *Store) analyzeIfStale(ctx context.Context) error {
	var stale bool
	if err := s.pool.QueryRow(ctx, queueStaleSQL).Scan(&stale); err != nil || !stale {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `ANALYZE delivery_queue`)
		return err
	})
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
