package deadline

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/event"
	"github.com/junctionhq/junction/internal/store"
)

// WorkflowRunCreate implements store.Store. One row.
func (s *Store) WorkflowRunCreate(ctx context.Context, p store.WorkflowRunCreateParams) (store.WorkflowRun, bool, error) {
	var created bool
	r, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (r store.WorkflowRun, err error) {
		r, created, err = s.inner.WorkflowRunCreate(ctx, p)
		return r, err
	})
	return r, created, err
}

// WorkflowClaim implements store.Store. A batch: up to p.Limit runs with their steps.
func (s *Store) WorkflowClaim(ctx context.Context, p store.WorkflowClaimParams) ([]store.ClaimedRun, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]store.ClaimedRun, error) { return s.inner.WorkflowClaim(ctx, p) })
}

// WorkflowSave implements store.Store. A batch: the step boundaries of many runs.
func (s *Store) WorkflowSave(ctx context.Context, writes []store.WorkflowWrite) ([]error, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]error, error) { return s.inner.WorkflowSave(ctx, writes) })
}

// WorkflowLeaseRenew implements store.Store. A batch: every run the owner holds.
func (s *Store) WorkflowLeaseRenew(ctx context.Context, owner string, ids []string, until time.Time) ([]string, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]string, error) {
		return s.inner.WorkflowLeaseRenew(ctx, owner, ids, until)
	})
}

// WorkflowRunGet implements store.Store. One run and its few steps.
func (s *Store) WorkflowRunGet(ctx context.Context, id string) (store.WorkflowRun, []store.WorkflowStep, error) {
	var steps []store.WorkflowStep
	r, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (r store.WorkflowRun, err error) {
		r, steps, err = s.inner.WorkflowRunGet(ctx, id)
		return r, err
	})
	return r, steps, err
}

// WorkflowRunList implements store.Store. A batch: the total counts every matching row.
func (s *Store) WorkflowRunList(ctx context.Context, f store.WorkflowRunFilter) ([]store.WorkflowRun, int, error) {
	var total int
	rs, err := get(s, ctx, s.timeouts.Batch, func(ctx context.Context) (rs []store.WorkflowRun, err error) {
		rs, total, err = s.inner.WorkflowRunList(ctx, f)
		return rs, err
	})
	return rs, total, err
}

// WorkflowRunCancel implements store.Store. One row.
func (s *Store) WorkflowRunCancel(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.WorkflowRun, error) { return s.inner.WorkflowRunCancel(ctx, id, at) })
}

// WorkflowRunRetry implements store.Store. One run and its few steps.
func (s *Store) WorkflowRunRetry(ctx context.Context, id string, at time.Time) (store.WorkflowRun, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.WorkflowRun, error) { return s.inner.WorkflowRunRetry(ctx, id, at) })
}

// WorkflowWake implements store.Store. A batch: every run waiting for what happened.
func (s *Store) WorkflowWake(ctx context.Context, ids []string, at time.Time) error {
	return s.run(ctx, s.timeouts.Batch, func(ctx context.Context) error { return s.inner.WorkflowWake(ctx, ids, at) })
}

// WorkflowCounts implements store.Store. A batch: it counts every run.
func (s *Store) WorkflowCounts(ctx context.Context) (map[string]map[store.WorkflowRunStatus]int, error) {
	return get(s, ctx, s.timeouts.Batch, s.inner.WorkflowCounts)
}

// WorkflowEventsSince implements store.Store. A batch: up to limit events.
func (s *Store) WorkflowEventsSince(ctx context.Context, eventType string, after time.Time, limit int) ([]event.Event, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]event.Event, error) {
		return s.inner.WorkflowEventsSince(ctx, eventType, after, limit)
	})
}

// WorkflowRunCreateMany implements store.Store. A batch: one run per element.
func (s *Store) WorkflowRunCreateMany(ctx context.Context, runs []store.WorkflowRun) ([]bool, error) {
	return get(s, ctx, s.timeouts.Batch, func(ctx context.Context) ([]bool, error) { return s.inner.WorkflowRunCreateMany(ctx, runs) })
}
