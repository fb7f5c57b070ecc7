package deadline

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// HandlerClaim implements store.Store. A batch: up to p.Limit executions.
func (s *Store) HandlerClaim(ctx context.Context, p store.HandlerClaimParams) ([]store.ClaimedExecution, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.ClaimedExecution, error) { return s.inner.HandlerClaim(ctx, p) })
}

// HandlerRecord implements store.Store. A batch: one outcome per execution.
func (s *Store) HandlerRecord(ctx context.Context, outcomes []store.HandlerOutcome) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.HandlerRecord(ctx, outcomes) })
}

// HandlerExecutionGet implements store.Store.
func (s *Store) HandlerExecutionGet(ctx context.Context, id string) (store.HandlerExecution, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.HandlerExecution, error) { return s.inner.HandlerExecutionGet(ctx, id) })
}

// HandlerExecutionList implements store.Store. A batch: the total counts every matching row.
func (s *Store) HandlerExecutionList(ctx context.Context, f store.HandlerFilter) ([]store.HandlerExecution, int, error) {
	var total int
	xs, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (xs []store.HandlerExecution, err error) {
		xs, total, err = s.inner.HandlerExecutionList(ctx, f)
		return xs, err
	})
	return xs, total, err
}

// HandlerExecutionRequeue implements store.Store.
func (s *Store) HandlerExecutionRequeue(ctx context.Context, id string, at time.Time) (store.HandlerExecution, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.HandlerExecution, error) {
		return s.inner.HandlerExecutionRequeue(ctx, id, at)
	})
}

// HandlerCounts implements store.Store. A batch: it counts every execution.
func (s *Store) HandlerCounts(ctx context.Context) (map[string]map[store.HandlerStatus]int, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (map[string]map[store.HandlerStatus]int, error) {
		return s.inner.HandlerCounts(ctx)
	})
}
