package runtime

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/junctionhq/junction/internal/cluster"
	"github.com/junctionhq/junction/internal/webhook"
)

// DeclaredWebhooksLease is the lease of the node that puts the declared webhooks in the
// store for the whole cluster.
const DeclaredWebhooksLease = "declared-webhooks"

// declaredSyncTimeout bounds a sync run when the lease is gained after the start: it
// runs on the lease's goroutine, and a slow one delays the lease's renewal.
const declaredSyncTimeout = 30 * time.Second

// declaredWebhooks puts the configuration's webhooks in the store
// (webhook.Service.Sync). It is a start step rather than part of Build because it
// writes, and Build has no side effects. A sync that fails (an endpoint made through
// the API has a declared webhook's name) fails the start, or the reload, which then
// leaves the previous runtime in force; that one's start syncs its own declarations.
//
// In a cluster one node syncs: the holder of DeclaredWebhooksLease, when it gains the
// lease and at each start of its runtime (a reload). The others only check their
// configuration against the store (CheckDeclared), so two nodes running different
// configurations during a rolling change do not undo each other's endpoints: the
// holder's configuration is the one in the store, and GET /cluster shows which nodes
// run another. On SQLite the one node always holds the lease, and the start waits for
// its sync as before.
type declaredWebhooks struct {
	svc  *webhook.Service
	node *cluster.Node // nil: no cluster (tests of the runtime alone); sync at start
	log  *slog.Logger

	mu    sync.Mutex
	lease *cluster.Lease
}

// Start syncs, or checks, the declarations; with a node it waits for the first try for
// the lease, so a holder's endpoints are in the store when the runtime has started.
func (c *declaredWebhooks) Start(ctx context.Context) error {
	if c.node == nil {
		return c.svc.Sync(ctx)
	}
	if err := c.svc.CheckDeclared(ctx); err != nil {
		return err
	}
	var (
		first    = true
		firstErr error
	)
	lease, err := c.node.Lease(ctx, DeclaredWebhooksLease, func(held bool) {
		if !held {
			return
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), declaredSyncTimeout)
		err := c.svc.Sync(sctx)
		cancel()
		c.mu.Lock()
		if first {
			first, firstErr = false, err
		}
		c.mu.Unlock()
		if err != nil {
			c.log.Error("declared webhooks: sync on gaining the lease failed", "error", err)
		}
	})
	if err != nil {
		return err
	}
	select {
	case <-lease.Tried():
	case <-ctx.Done():
		return errors.Join(ctx.Err(), lease.Stop(context.WithoutCancel(ctx)))
	}
	c.mu.Lock()
	first = false // a later gain only logs its failure
	err = firstErr
	c.lease = lease
	c.mu.Unlock()
	if err != nil {
		return errors.Join(err, lease.Stop(context.WithoutCancel(ctx)))
	}
	return nil
}

// Stop gives the lease up, so the next runtime of this node, or another node, syncs.
// The endpoints outlive the runtime.
func (c *declaredWebhooks) Stop(ctx context.Context) error {
	c.mu.Lock()
	lease := c.lease
	c.lease = nil
	c.mu.Unlock()
	if lease == nil {
		return nil
	}
	return lease.Stop(ctx)
}
