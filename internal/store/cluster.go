package store

import (
	"context"
	"time"
)

// Cluster storage: the nodes (`junction serve` processes) sharing this database and the
// leases through which one of them at a time holds a duty that must run once per
// cluster (the job scheduler, an events source, the retention purge).
//
// A lease is a row keyed by its name that names its holder and when it expires. Taking
// it is one conditional write: it succeeds when the row is missing, expired, or already
// the caller's (a renewal), so two nodes never both hold a lease at the same time by
// the database's account. Expiry is judged with the caller's clock, as the job runs'
// leases are: the nodes' clocks must agree to well within the lease's time to live.

// Lease is a named duty and the node holding it.
type Lease struct {
	Name       string
	Holder     string    // the holding node's id
	AcquiredAt time.Time // when Holder took it; renewals keep it
	ExpiresAt  time.Time // free for another node from then on, unless renewed
}

// LeaseAcquireParams ask for a lease, or its renewal, until Now + TTL.
type LeaseAcquireParams struct {
	Name   string
	Holder string
	Now    time.Time
	TTL    time.Duration
}

// Node is a `junction serve` process as registered in the store.
type Node struct {
	ID            string
	Address       string // where its API answers, as it advertises it
	Version       string // the binary's version
	ConfigVersion string // a hash of the configuration it runs; changes on reload
	StartedAt     time.Time
	HeartbeatAt   time.Time
	StoppedAt     *time.Time // set at a clean stop; nil while it runs (or died)
}

// NodeHeartbeatParams are a running node's periodic sign of life.
type NodeHeartbeatParams struct {
	ID            string
	At            time.Time
	ConfigVersion string
}

// ClusterStore is the cluster part of Store.
type ClusterStore interface {
	// LeaseAcquire takes the lease p.Name for p.Holder until p.Now + p.TTL when no node
	// holds it, its holder's lease expired at p.Now, or p.Holder already holds it (then it
	// is renewed, keeping AcquiredAt). It returns the lease as it stands after the call
	// and whether p.Holder holds it; a lease never taken is returned zero, not held.
	LeaseAcquire(ctx context.Context, p LeaseAcquireParams) (Lease, bool, error)
	// LeaseRelease frees the lease if holder holds it, so another node can take it at
	// once, and reports whether it did; releasing a lease held by another node, or by
	// nobody, changes nothing.
	LeaseRelease(ctx context.Context, name, holder string) (bool, error)
	// LeaseList returns every lease row, expired ones included, by name.
	LeaseList(ctx context.Context) ([]Lease, error)

	// NodeRegister stores n, replacing a row with the same ID (a restart under a fixed
	// node id), with StoppedAt cleared.
	NodeRegister(ctx context.Context, n Node) error
	// NodeHeartbeat records that the node is alive at p.At, running configuration
	// p.ConfigVersion. ErrNotFound when the node has no row (it was pruned: register
	// again).
	NodeHeartbeat(ctx context.Context, p NodeHeartbeatParams) error
	// NodeStop marks the node stopped at a clean shutdown. ErrNotFound when it has no
	// row.
	NodeStop(ctx context.Context, id string, at time.Time) error
	// NodeList returns every registered node, by start time then id.
	NodeList(ctx context.Context) ([]Node, error)
	// NodePrune deletes the nodes whose last heartbeat is before before (stopped or dead
	// long ago) and returns how many it deleted.
	NodePrune(ctx context.Context, before time.Time) (int, error)
}
