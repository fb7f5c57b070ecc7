package deadline

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// The event log's calls read a bounded page or touch one cursor row: each gets a call's
// deadline. An events source that cannot read in time tries again at its next poll.

// EventLogRead implements store.Store.
func (s *Store) EventLogRead(ctx context.Context, q store.EventLogQuery) (store.EventLogPage, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (store.EventLogPage, error) { return s.inner.EventLogRead(ctx, q) })
}

// FlowEventCursorStart implements store.Store.
func (s *Store) FlowEventCursorStart(ctx context.Context, flow string, at time.Time) (store.EventPosition, bool, error) {
	var created bool
	pos, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (pos store.EventPosition, err error) {
		pos, created, err = s.inner.FlowEventCursorStart(ctx, flow, at)
		return pos, err
	})
	return pos, created, err
}

// FlowEventCursorSet implements store.Store.
func (s *Store) FlowEventCursorSet(ctx context.Context, flow string, pos store.EventPosition, at time.Time) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.FlowEventCursorSet(ctx, flow, pos, at) })
}

// FlowEventCursorsPrune implements store.Store.
func (s *Store) FlowEventCursorsPrune(ctx context.Context, keep []string, before time.Time) (int, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (int, error) { return s.inner.FlowEventCursorsPrune(ctx, keep, before) })
}
