package deadline

import (
	"context"
	"time"

	"github.com/junctionhq/junction/internal/store"
)

// The cluster calls each touch one row, or list the few rows of a cluster's nodes and
// leases: each gets a call's deadline. A lease renewal that cannot finish well within
// its lease's time to live is as good as lost anyway.

// LeaseAcquire implements store.Store.
func (s *Store) LeaseAcquire(ctx context.Context, p store.LeaseAcquireParams) (store.Lease, bool, error) {
	var held bool
	l, err := get(s, ctx, s.timeouts.Call, func(ctx context.Context) (l store.Lease, err error) {
		l, held, err = s.inner.LeaseAcquire(ctx, p)
		return l, err
	})
	return l, held, err
}

// LeaseRelease implements store.Store.
func (s *Store) LeaseRelease(ctx context.Context, name, holder string) (bool, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (bool, error) { return s.inner.LeaseRelease(ctx, name, holder) })
}

// LeaseList implements store.Store.
func (s *Store) LeaseList(ctx context.Context) ([]store.Lease, error) {
	return get(s, ctx, s.timeouts.Call, s.inner.LeaseList)
}

// NodeRegister implements store.Store.
func (s *Store) NodeRegister(ctx context.Context, n store.Node) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.NodeRegister(ctx, n) })
}

// NodeHeartbeat implements store.Store.
func (s *Store) NodeHeartbeat(ctx context.Context, p store.NodeHeartbeatParams) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.NodeHeartbeat(ctx, p) })
}

// NodeStop implements store.Store.
func (s *Store) NodeStop(ctx context.Context, id string, at time.Time) error {
	return s.run(ctx, s.timeouts.Call, func(ctx context.Context) error { return s.inner.NodeStop(ctx, id, at) })
}

// NodeList implements store.Store.
func (s *Store) NodeList(ctx context.Context) ([]store.Node, error) {
	return get(s, ctx, s.timeouts.Call, s.inner.NodeList)
}

// NodePrune implements store.Store.
func (s *Store) NodePrune(ctx context.Context, before time.Time) (int, error) {
	return get(s, ctx, s.timeouts.Call, func(ctx context.Context) (int, error) { return s.inner.NodePrune(ctx, before) })
}
