package flow

import (
	"context"
	"sync"
	"time"
)

// SourceLeasePrefix starts the name of the lease under which a flow's singleton source
// runs: "flow-source:" and the flow's name.
const SourceLeasePrefix = "flow-source:"

// leaseReleaseTimeout bounds the release of a source lease when a flow stops: a store
// that does not answer must not hold the stop up (the lease then expires on its own).
const leaseReleaseTimeout = 5 * time.Second

// SourceLease is a lease a flow holds to open its source (cluster.Lease).
type SourceLease interface {
	// Held reports whether this node holds the lease now.
	Held() bool
	// Holder is the node holding it by the store's last answer ("" when none or unknown).
	Holder() string
	// Stop gives the lease up and releases it, so another node takes it at once.
	Stop(ctx context.Context) error
}

// LeaseFunc starts trying for the lease name; onChange is called with true when it is
// gained and false when it is lost or given up (one call at a time, in order).
type LeaseFunc func(name string, onChange func(held bool)) (SourceLease, error)

// sourceGate follows a source lease for the flow's run loop: whether it is held, and a
// channel closed at the next change.
type sourceGate struct {
	lease SourceLease

	mu      sync.Mutex
	held    bool
	changed chan struct{}
}

func newSourceGate() *sourceGate { return &sourceGate{changed: make(chan struct{})} }

// set is the lease's OnChange. It never blocks: the lease's renewals wait for it.
func (g *sourceGate) set(held bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == held {
		return
	}
	g.held = held
	close(g.changed)
	g.changed = make(chan struct{})
}

// state is whether the lease is held and a channel closed when that changes.
func (g *sourceGate) state() (bool, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held, g.changed
}

// holder is the node holding the lease, when another one does.
func (g *sourceGate) holder() string {
	if g == nil || g.lease == nil {
		return ""
	}
	return g.lease.Holder()
}

// stop gives the lease up.
func (g *sourceGate) stop(f *Flow) {
	if g == nil || g.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaseReleaseTimeout)
	defer cancel()
	if err := g.lease.Stop(ctx); err != nil {
		f.opts.Env.Logger.Warn("releasing the flow's source lease failed; another node takes it when it expires", "flow", f.cfg.Name, "error", err)
	}
}

// singleton says whether the flow's source must run on one node at a time.
func (f *Flow) singleton() bool {
	b, err := f.sourceSettings()
	return err == nil && b.kind.Singleton
}

// holding runs consume while the lease is held, and waits in standby while another node
// holds it. Losing the lease ends the source (the channel closes, the messages in
// flight finish: work is not cancelled); gaining it opens the source again.
func (f *Flow) holding(srcCtx, work context.Context, g *sourceGate) error {
	held, changed := g.state()
	if !held {
		f.setState(StateStandby)
		select {
		case <-srcCtx.Done():
		case <-changed:
		}
		return nil
	}
	holdCtx, cancel := context.WithCancel(srcCtx)
	defer cancel()
	go func() {
		select {
		case <-changed: // held now, so this is a loss (or a loss and a gain: opened again)
			f.opts.Env.Logger.Info("flow source lease lost; closing the source", "flow", f.cfg.Name)
			cancel()
		case <-holdCtx.Done():
		}
	}()
	err := f.consume(holdCtx, work)
	if holdCtx.Err() != nil && srcCtx.Err() == nil {
		return nil // lost: not a failure of the source
	}
	return err
}
